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
    docks: tuple[str, ...] = ()  # the task's own panels besides Edit and History, by title


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
        ("Reference",),
    ),
    Task.PASTE: TaskView(
        "Paste",
        "Paint the object on the reference, then place it on the image.",
        "paste",
        (Layer.PASTE,),
        "Kept. The paste layer is cleared: place the reference object again.",
        ("Reference",),
    ),
    Task.FACE: TaskView(
        "Face",
        "Drag the face's points, move the sliders or transfer a reference face; paint a "
        "region to limit the change (optional).",
        "landmarks",
        (Layer.LANDMARKS,),
        "Kept. The sliders are back at 0, and the points move onto the result's own "
        "landmarks once they are found.",
        ("Face", "Reference"),  # a reference face to transfer
    ),
}
if set(VIEWS) != set(TASKS):
    raise RuntimeError("Every task needs a TaskView, and only a task has one.")


def uses_reference(task: Task) -> bool:
    """Whether the task reads a reference image, so the prompt describes the result."""
    return spec_of(task).two_image


def uses_fill_hint(task: Task) -> bool:
    """Whether the Fill hint action applies: the task reads the fill mask."""
    return MaskName.FILL in DOCUMENT_TASKS[task].reads


def needs_painting(task: Task) -> bool:
    """Whether the task's own tool waits for a painted mask (a task that reads no mask of
    the image, such as one whose object is on the reference, or only an optional one, such
    as the face's, does not)."""
    declared = DOCUMENT_TASKS[task]
    return bool(set(declared.reads) - set(declared.optional))
