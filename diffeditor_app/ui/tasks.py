"""How the window shows each task, in one registry: its label and hint, the tool it needs,
the layers it shows and what the status line says after Keep. The window, the panels, the
painters and the edit controller read these; nothing else in the ui names a task.

What the document knows of a task (its brush mask, the masks it reads, Keep's follow-up) is
in document/tasks.py; whether it has a reference image, in the engine's `TaskSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass

from diffeditor_app.document.state import MaskName
from diffeditor_app.document.tasks import DOCUMENT_TASKS
from diffeditor_app.engine.tasks.registry import TASKS, Task, spec_of
from diffeditor_app.ui.tools import Layer


@dataclass(frozen=True)
class TaskView:
    """One task as the window shows it."""

    label: str  # the Tasks toolbar's button
    hint: str  # the edit panel's first line: what to do
    tool: str  # the tool it needs once its mask is painted (before that: the brush)
    layers: tuple[Layer, ...]  # the session's layers besides masks it uses: shown with any tool
    kept: str  # the status line after Keep: what Keep did, what to do next


VIEWS: dict[Task, TaskView] = {
    Task.MOVE: TaskView(
        "Move / Resize",
        "Paint the object, then drag the box to move it; drag a corner to resize.",
        "box",
        (Layer.BOX,),
        "Kept. The mask and the box now sit on the moved object: move it again, or "
        "paint another object.",
    ),
    Task.DRAG: TaskView(
        "Drag",
        "Paint the editable region, then click a handle and its target.",
        "points",
        (Layer.PAIRS,),
        "Kept. The drag points are spent and cleared: click a new handle and target.",
    ),
    Task.APPEARANCE: TaskView(
        "Replace appearance",
        "Paint the object here and the new look on the reference.",
        "brush",
        (),
        "Kept. Paint another object, or load another reference.",
    ),
    Task.PASTE: TaskView(
        "Paste",
        "Paint the object on the reference, then place it on the image.",
        "paste",
        (Layer.PASTE,),
        "Kept. The paste layer is cleared: place the reference object again.",
    ),
    Task.FACE: TaskView(  # the points tool; face detection, sliders and a reference face
        "Face",  # are the CLI's for now (diffeditor edit face)
        "Click a face point, then where it should go; paint a region to limit the change "
        "(optional). Sliders and a reference face: diffeditor edit face.",
        "points",
        (Layer.PAIRS,),
        "Kept. The face points are spent and cleared: click new points and targets.",
    ),
}
if set(VIEWS) != set(TASKS):
    raise RuntimeError("Every task needs a TaskView, and only a task has one.")


def uses_reference(task: Task) -> bool:
    """Whether the task shows the reference dock and asks for the result in the prompt."""
    return spec_of(task).two_image


def uses_fill_hint(task: Task) -> bool:
    """Whether the Fill hint action applies: the task reads the fill mask."""
    return MaskName.FILL in DOCUMENT_TASKS[task].reads


def needs_painting(task: Task) -> bool:
    """Whether the task's own tool waits for a painted mask (a task that reads no mask of
    the image, such as one whose object is on the reference, does not)."""
    return bool(DOCUMENT_TASKS[task].reads)
