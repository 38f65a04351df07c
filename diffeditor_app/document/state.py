"""The document's state: everything the user has set up for an edit, as plain dataclasses.

Nothing here knows Qt, so the state can be built, changed, saved (project.py) and turned
into a request (snapshot.py) without an application; `EditSession` (session.py) wraps it
with signals and an undo stack for the views.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from diffeditor_app.engine.face.align import GROUPS
from diffeditor_app.engine.face.landmarks import Face
from diffeditor_app.engine.face.sliders import Sliders
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.limits import DEFAULT_SEED, DEFAULT_STEPS
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.settings import Quality
from diffeditor_app.engine.tasks.registry import TASKS, Task, spec_of

BBox = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), in the mask's pixels


class MaskName(str, enum.Enum):
    """The masks of a session; which task reads which is declared in tasks.py."""

    OBJECT = "object"  # the object to edit
    REGION = "region"  # an editable region around content to change
    FILL = "fill"  # what should fill an area an edit vacates
    REFERENCE = "reference"  # the object on the reference image


@dataclass(frozen=True)
class DragPair:
    handle: Point
    target: Point | None = None  # None until the second click


@dataclass(frozen=True)
class MoveBox:
    """The move/resize gesture: where the object goes and how big it becomes."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class PasteLayer:
    at: Point | None = None  # centre of the pasted object on the image; None: not placed
    scale: float = 1.0


@dataclass(frozen=True)
class FaceSetup:
    """The face task's set-up. The points are the chosen face's 68 landmarks, found on the
    current image; each target is its point plus what every source adds: the reference
    face's shape (when transferred), the sliders and the user's own drags. Points of a group
    that is off hold their place (document/faces.py)."""

    chosen: int = 0  # which face of the image, 0 the largest
    groups: tuple[str, ...] = tuple(GROUPS)  # the groups that move
    sliders: Sliders = field(default_factory=Sliders)
    reference: bool = False  # the reference face's shape transferred onto the face
    dragged: tuple[tuple[int, float, float], ...] = ()  # (point, dx, dy) moved by hand

    def at_rest(self) -> FaceSetup:
        """Every target back on its point (sliders at 0, no drags, no transfer); the face
        and the groups stay as chosen."""
        return FaceSetup(chosen=self.chosen, groups=self.groups)

    def offset(self, index: int) -> tuple[float, float]:
        """What the user's drags add to point `index`."""
        for point, dx, dy in self.dragged:
            if point == index:
                return dx, dy
        return 0.0, 0.0


@dataclass(frozen=True, eq=False)
class FoundFaces:
    """What the landmark detector found on one image, largest face first; `problem` is the
    sentence when it could not look (the face extra missing, for one)."""

    image: SourceImage
    faces: tuple[Face, ...] = ()
    problem: str = ""


FOUND_KEPT = 8  # detections remembered: the current image, the reference and a few undone


@dataclass(frozen=True)
class EditOptions:
    """The Advanced panel, its ranges in limits.OPTION_RANGES, and the quality choice.
    None means the default of the model that runs the edit, for the task (for the quality:
    the user's preference); a number is sent as it is."""

    guidance_strength: float | None = None
    eta_in: float | None = None  # the regional SDE's eta inside the edit region (Flexibility)
    ip_scale: float | None = None
    steps: int = DEFAULT_STEPS
    resolution: int | None = None
    quality: Quality | None = None  # chosen in the panel; remembered with the project


@dataclass(frozen=True, eq=False)
class EditSetup:
    """What an edit was run with, as far as keeping its result must follow it: the task,
    the object mask and the move box (a move carries the mask along), the drag pairs (spent
    by a drag), the paste layer (spent by a paste) and the face set-up (spent by a face
    edit)."""

    task: Task
    object_mask: np.ndarray
    box: MoveBox
    pairs: tuple[DragPair, ...]
    paste: PasteLayer
    face_setup: FaceSetup = FaceSetup()

    @classmethod
    def of(cls, state: SessionState) -> EditSetup:
        return cls(
            state.task,
            state.masks[MaskName.OBJECT].copy(),
            state.box,
            tuple(state.pairs),
            state.paste,
            state.face_setup,
        )


@dataclass(frozen=True, eq=False)
class Candidate:
    """A finished edit waiting to be kept or discarded, with the set-up that made it: Keep
    follows that task's set-up, whatever task is chosen by then."""

    image: SourceImage
    seed: int
    summary: str  # e.g. "seed 42 · 12.3 s"
    made_with: EditSetup


def prompt_slot(task: Task) -> Task:
    """The prompt a task reads. The one-image tasks describe the image itself and share one
    (kept under the first of them); each two-image task describes its own result, which the
    image's caption contradicts (it names the old colour, or leaves the pasted object out)."""
    if spec_of(task).two_image:
        return task
    return next(key for key, spec in TASKS.items() if not spec.two_image)


@dataclass(eq=False)
class SessionState:
    """The session's data, separate from its signals so a project file can carry it."""

    original: SourceImage
    current: SourceImage
    masks: dict[MaskName, np.ndarray]
    pairs: list[DragPair] = field(default_factory=list)
    box: MoveBox = MoveBox()
    paste: PasteLayer = PasteLayer()
    face_setup: FaceSetup = FaceSetup()
    found: list[FoundFaces] = field(default_factory=list)  # newest first, FOUND_KEPT at most
    reference: SourceImage | None = None
    task: Task = Task.MOVE
    prompts: dict[Task, str] = field(default_factory=dict)  # by prompt_slot
    reference_prompt: str = ""
    seed: int = DEFAULT_SEED
    options: EditOptions = EditOptions()
    kept: list[SourceImage] = field(default_factory=list)  # every result kept, in order

    @property
    def prompt(self) -> str:
        """The current task's prompt."""
        return self.prompts.get(prompt_slot(self.task), "")

    @classmethod
    def for_image(cls, image: SourceImage) -> SessionState:
        empty = np.zeros((image.height, image.width), dtype=bool)
        masks = {name: empty.copy() for name in (MaskName.OBJECT, MaskName.REGION, MaskName.FILL)}
        return cls(original=image, current=image, masks=masks)
