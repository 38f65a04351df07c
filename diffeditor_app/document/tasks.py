"""The document side of every task, in one registry: which mask its brush paints, which
masks it reads, the request fields it takes from the state, and what keeping its result
does to the set-up that made it.

Everything here is a pure function of the state (no Qt): `snapshot.build_request` and
`commands.keep_result` apply it, the app, scripts and tests alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diffeditor_app.document import gestures
from diffeditor_app.document.faces import editable_points
from diffeditor_app.document.gestures import ValueChange
from diffeditor_app.document.state import (
    DragPair,
    EditSetup,
    FaceSetup,
    MaskName,
    MoveBox,
    PasteLayer,
    SessionState,
)
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.face.crop import pairs_for
from diffeditor_app.engine.imaging.geometry import Placement, bbox_centre
from diffeditor_app.engine.tasks.registry import TASKS, Task


@dataclass(frozen=True, eq=False)
class FollowUp:
    """What Keep changes in the set-up, as new values; None (or absent) leaves it as it is."""

    object_mask: np.ndarray | None = None  # the object mask moves onto the kept object
    cleared: tuple[MaskName, ...] = ()  # masks emptied
    box: MoveBox | None = None
    pairs: tuple[DragPair, ...] | None = None
    paste: PasteLayer | None = None
    face_setup: FaceSetup | None = None


@dataclass(frozen=True)
class DocumentTask:
    """One task as the document knows it."""

    brush_mask: MaskName  # the mask the brush paints while the task is chosen
    reads: tuple[MaskName, ...]  # the image's masks its edit reads: shown while chosen
    values: Callable[[SessionState], dict[str, Any]]  # its own request fields, from the state
    follow_up: Callable[[SessionState, EditSetup], FollowUp] = field(
        default=lambda state, setup: FollowUp()  # by default the set-up stays as it was
    )
    optional: tuple[MaskName, ...] = ()  # masks it reads that may stay empty
    # Edit > Clear points: the drag pairs, unless the task has points of its own
    clear_points: Callable[[SessionState], ValueChange | None] = gestures.clear_pairs


def moved_mask(mask: np.ndarray, box: MoveBox) -> np.ndarray:
    """The object mask carried by the move box, exactly as the edit moved the object (scale
    about the mask's bounding-box centre, then shift), cropped at the borders."""
    if not mask.any():
        return mask.copy()
    cx, cy = bbox_centre(mask)
    return Placement(box.scale, box.dx, box.dy, cx, cy).place(mask)


def _reference(state: SessionState) -> dict[str, Any]:
    """The reference image, its object and its prompt: what every two-image task reads."""
    if state.reference is None:
        raise InvalidInput("Load a reference image first.")
    return dict(
        reference=state.reference,
        reference_mask=state.masks[MaskName.REFERENCE].copy(),
        reference_prompt=state.reference_prompt,
    )


def _move_values(state: SessionState) -> dict[str, Any]:
    fill = state.masks[MaskName.FILL]
    return dict(
        mask=state.masks[MaskName.OBJECT].copy(),
        offset=(state.box.dx, state.box.dy),
        scale=state.box.scale,
        fill_hint=fill.copy() if fill.any() else None,
    )


def _follow_move(state: SessionState, setup: EditSetup) -> FollowUp:
    """The object mask moves onto the moved object and the box is reset on it; the fill
    hint, which described the vacated area, is cleared."""
    if setup.box == MoveBox():
        return FollowUp()
    return FollowUp(
        object_mask=moved_mask(setup.object_mask, setup.box),
        cleared=(MaskName.FILL,),
        box=MoveBox(),
    )


def _drag_values(state: SessionState) -> dict[str, Any]:
    pairs = tuple((p.handle, p.target) for p in state.pairs if p.target is not None)
    return dict(mask=state.masks[MaskName.REGION].copy(), pairs=pairs)


def _follow_drag(state: SessionState, setup: EditSetup) -> FollowUp:
    """The pairs the drag used are spent; pairs added since stay."""
    return FollowUp(pairs=tuple(pair for pair in state.pairs if pair not in setup.pairs))


def _face_values(state: SessionState) -> dict[str, Any]:
    """The chosen face's 68 points and their targets (document/faces.py), its detected box,
    and the editable region, when painted, as the optional face mask."""
    points = editable_points(state)
    image = state.current
    region = state.masks[MaskName.REGION]
    return dict(
        pairs=pairs_for(points.points, points.targets, image.width, image.height),
        face_box=points.face.box,
        mask=region.copy() if region.any() else None,
    )


def _follow_face(state: SessionState, setup: EditSetup) -> FollowUp:
    """The change is spent: the sliders go back to 0, the drags and the transfer are undone
    (the points themselves follow the result once its landmarks are found)."""
    return FollowUp(face_setup=setup.face_setup.at_rest())


def _appearance_values(state: SessionState) -> dict[str, Any]:
    return dict(mask=state.masks[MaskName.OBJECT].copy(), **_reference(state))


def _paste_values(state: SessionState) -> dict[str, Any]:
    reference = _reference(state)
    if state.paste.at is None:
        raise InvalidInput("Place the reference object on the image first.")
    return dict(at=state.paste.at, scale=state.paste.scale, **reference)


def _follow_paste(state: SessionState, setup: EditSetup) -> FollowUp:
    """The pasted object is in the image now: the layer is cleared, its scale kept."""
    return FollowUp(paste=PasteLayer(None, setup.paste.scale))


DOCUMENT_TASKS: dict[Task, DocumentTask] = {
    Task.MOVE: DocumentTask(
        MaskName.OBJECT, (MaskName.OBJECT, MaskName.FILL), _move_values, _follow_move
    ),
    Task.DRAG: DocumentTask(MaskName.REGION, (MaskName.REGION,), _drag_values, _follow_drag),
    Task.APPEARANCE: DocumentTask(  # the object stays where it was
        MaskName.OBJECT, (MaskName.OBJECT,), _appearance_values
    ),
    Task.PASTE: DocumentTask(MaskName.OBJECT, (), _paste_values, _follow_paste),
    Task.FACE: DocumentTask(  # its mask is optional: its points need no painting first
        MaskName.REGION,
        (MaskName.REGION,),
        _face_values,
        _follow_face,
        optional=(MaskName.REGION,),
        clear_points=gestures.reset_face,  # every target back on its point
    ),
}
if set(DOCUMENT_TASKS) != set(TASKS):
    raise RuntimeError("Every task needs a DocumentTask, and only a task has one.")
