"""`EditSession`: everything the user has set up for an edit, observed by the views.

Views read the session and subscribe to its fine-grained signals; they change it only by
pushing undo commands (commands.py), which call the `_apply_*` methods below. Setters that
would not change anything emit nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.models.model import RESOLUTION_LIMITS
from diffeditor_app.engine.requests import DEFAULT_SEED, DEFAULT_STEPS, Point
from diffeditor_app.engine.settings import Quality, Task

BBox = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), in the mask's pixels


class MaskName(str, enum.Enum):
    OBJECT = "object"  # move / appearance: the object; drag uses REGION
    REGION = "region"  # drag: the editable region
    FILL = "fill"  # move: what should fill the vacated area
    REFERENCE = "reference"  # appearance / paste: the object on the reference image


TASK_MASK = {  # the mask a task's brush paints when the task is chosen
    Task.MOVE: MaskName.OBJECT,
    Task.DRAG: MaskName.REGION,
    Task.APPEARANCE: MaskName.OBJECT,
    Task.PASTE: MaskName.OBJECT,
}
MASKS_OF_TASK = {  # the image's masks a task's edit reads: shown while the task is chosen
    Task.MOVE: (MaskName.OBJECT, MaskName.FILL),
    Task.DRAG: (MaskName.REGION,),
    Task.APPEARANCE: (MaskName.OBJECT,),
    Task.PASTE: (),
}


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


OPTION_RANGES = {  # EditOptions field -> (lowest, highest): the Advanced panel's fields
    "guidance_strength": (0.0, 10.0),  # S / 1000; the method's defaults are 0.5..4
    "flexibility": (0.0, 1.0),  # an SDE eta
    "ip_scale": (0.0, 2.0),  # past 2 the image branch drowns the prompt
    "steps": (1, 200),  # 50 is the method's; 200 is already four times slower
    "resolution": (0, RESOLUTION_LIMITS[1]),  # 0: the model's; the model narrows the rest
}


@dataclass(frozen=True)
class EditOptions:
    """The Advanced panel and the quality choice. None means the engine's default for the
    task and model (for the quality: the user's preference)."""

    guidance_strength: float | None = None
    flexibility: float | None = None  # the regional SDE's eta inside the edit region
    ip_scale: float | None = None
    steps: int = DEFAULT_STEPS
    resolution: int | None = None
    quality: Quality | None = None  # chosen in the panel; remembered with the project


@dataclass(frozen=True, eq=False)
class EditSetup:
    """What an edit was run with, as far as keeping its result must follow it: the task,
    the object mask and the move box (a move carries the mask along), the drag pairs (spent
    by a drag) and the paste layer (spent by a paste)."""

    task: Task
    object_mask: np.ndarray
    box: MoveBox
    pairs: tuple[DragPair, ...]
    paste: PasteLayer

    @classmethod
    def of(cls, state: SessionState) -> EditSetup:
        return cls(
            state.task,
            state.masks[MaskName.OBJECT].copy(),
            state.box,
            tuple(state.pairs),
            state.paste,
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
    """The prompt a task reads. Move and drag describe the image itself and share one;
    appearance and paste each describe their own result, which the image's caption
    contradicts (it names the old colour, or leaves the pasted object out)."""
    return Task.MOVE if task is Task.DRAG else task


@dataclass(eq=False)
class SessionState:
    """The session's data, separate from its signals so a project file can carry it."""

    original: SourceImage
    current: SourceImage
    masks: dict[MaskName, np.ndarray]
    pairs: list[DragPair] = field(default_factory=list)
    box: MoveBox = MoveBox()
    paste: PasteLayer = PasteLayer()
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


class EditSession(QObject):
    """One open image and everything set up to edit it."""

    image_changed = Signal()
    mask_changed = Signal(str, object)  # mask name, changed BBox (None: everywhere)
    pairs_changed = Signal()
    box_changed = Signal()
    paste_changed = Signal()
    reference_changed = Signal()
    task_changed = Signal(str)
    text_changed = Signal()  # prompts, seed or options
    candidates_changed = Signal()

    def __init__(self, state: SessionState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.undo_stack = QUndoStack(self)
        self.candidates: list[Candidate] = []

    @classmethod
    def open(cls, image: SourceImage, parent: QObject | None = None) -> EditSession:
        return cls(SessionState.for_image(image), parent)

    # -- reading --------------------------------------------------------------------------

    @property
    def image(self) -> SourceImage:
        return self.state.current

    def mask(self, name: MaskName) -> np.ndarray:
        """The live mask (read it, never write it: push a command instead)."""
        return self.state.masks[name]

    @property
    def task(self) -> Task:
        return self.state.task

    # -- not undo steps: tool options are preferences (docs/ARCHITECTURE.md, One home per default)

    def set_task(self, task: Task) -> None:
        if task is not self.state.task:
            self.state.task = task
            self.task_changed.emit(task.value)

    def set_text(self, **changes) -> None:
        """Prompt (the current task's), reference_prompt, seed or options; emits once if
        anything changed."""
        updated = False
        for key, value in changes.items():
            if key not in {"prompt", "reference_prompt", "seed", "options"}:
                raise KeyError(key)
            if getattr(self.state, key) != value:
                if key == "prompt":
                    self.state.prompts[prompt_slot(self.state.task)] = value
                else:
                    setattr(self.state, key, value)
                updated = True
        if updated:
            self.text_changed.emit()

    def set_prompt(self, task: Task, text: str) -> None:
        """The prompt of a task other than the current one (a demo, a script)."""
        if self.state.prompts.get(prompt_slot(task), "") != text:
            self.state.prompts[prompt_slot(task)] = text
            self.text_changed.emit()

    def set_options(self, **changes) -> None:
        self.set_text(options=replace(self.state.options, **changes))

    def add_candidate(self, candidate: Candidate) -> None:
        self.candidates.append(candidate)
        self.candidates_changed.emit()

    def clear_candidates(self) -> None:
        if self.candidates:
            self.candidates.clear()
            self.candidates_changed.emit()

    def discard_candidate(self, candidate: Candidate) -> None:
        if candidate in self.candidates:
            self.candidates.remove(candidate)
            self.candidates_changed.emit()

    # -- applied only by undo commands ---------------------------------------------------

    def _apply_mask(self, name: MaskName, bbox: BBox, pixels: np.ndarray) -> None:
        x0, y0, x1, y1 = bbox
        self.state.masks[name][y0:y1, x0:x1] = pixels
        self.mask_changed.emit(name.value, bbox)

    def _apply_reference(self, reference: SourceImage | None, mask: np.ndarray | None) -> None:
        self.state.reference = reference
        if mask is None:
            self.state.masks.pop(MaskName.REFERENCE, None)
        else:
            self.state.masks[MaskName.REFERENCE] = mask
        self.reference_changed.emit()
        self.mask_changed.emit(MaskName.REFERENCE.value, None)

    def _apply_pairs(self, pairs: list[DragPair]) -> None:
        self.state.pairs = list(pairs)
        self.pairs_changed.emit()

    def _apply_box(self, box: MoveBox) -> None:
        if box != self.state.box:
            self.state.box = box
            self.box_changed.emit()

    def _apply_paste(self, paste: PasteLayer) -> None:
        if paste != self.state.paste:
            self.state.paste = paste
            self.paste_changed.emit()

    def _apply_current(self, image: SourceImage, kept: list[SourceImage]) -> None:
        self.state.current = image
        self.state.kept = list(kept)
        self.image_changed.emit()
