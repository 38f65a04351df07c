"""Gestures as pure functions: each reads the state and returns the change it would make,
the values before and after, or None when it would change nothing.

Nothing here touches Qt or the state itself: the Qt adapter (commands.py) turns a change
into one undo step, and the session applies its `before` or `after` and tells the views.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from diffeditor_app.document.faces import chosen_face, held, targets_of
from diffeditor_app.document.state import BBox, DragPair, FaceSetup, MaskName, SessionState
from diffeditor_app.engine.face.align import GROUPS
from diffeditor_app.engine.requests import Point


@dataclass(frozen=True, eq=False)
class MaskChange:
    """A stroke, a fill, a clear or an invert of one mask, inside a bounding box."""

    name: MaskName
    bbox: BBox
    before: np.ndarray  # the box's pixels before the gesture
    after: np.ndarray  # ... and after it
    text: str


@dataclass(frozen=True)
class ValueChange:
    """A whole-value change of one field of the state: the drag pairs, the move box, the
    paste layer or the face set-up. Changes with the same field and `merge_key` (a series
    of arrow-key nudges of one thing, one drag of a slider) make one undo step."""

    field: str  # the state's field: the pairs, the box, the paste layer or the face set-up
    before: Any
    after: Any
    text: str
    merge_key: object = None


def whole(mask: np.ndarray) -> BBox:
    return 0, 0, mask.shape[1], mask.shape[0]


def _mask_change(
    state: SessionState, name: MaskName, bbox: BBox, after: np.ndarray, text: str
) -> MaskChange:
    x0, y0, x1, y1 = bbox
    before = state.masks[name][y0:y1, x0:x1].copy()
    return MaskChange(name, bbox, before, after.astype(bool, copy=True), text)


def stroke(
    state: SessionState, name: MaskName, bbox: BBox, after: np.ndarray, erase: bool
) -> MaskChange | None:
    x0, y0, x1, y1 = bbox
    if np.array_equal(state.masks[name][y0:y1, x0:x1], after):
        return None
    return _mask_change(state, name, bbox, after, "Erase" if erase else "Paint")


def clear_mask(state: SessionState, name: MaskName) -> MaskChange | None:
    mask = state.masks[name]
    if not mask.any():
        return None
    return _mask_change(state, name, whole(mask), np.zeros_like(mask), f"Clear {name.value} mask")


def invert_mask(state: SessionState, name: MaskName) -> MaskChange:
    mask = state.masks[name]
    return _mask_change(state, name, whole(mask), ~mask, f"Invert {name.value} mask")


def replace_mask(
    state: SessionState, name: MaskName, after: np.ndarray, text: str
) -> MaskChange | None:
    """A selection or a refinement: a change over the bounding box of what differs."""
    mask = state.masks[name]
    if after.shape != mask.shape:
        raise ValueError(f"a {after.shape} selection for a {mask.shape} mask")
    changed = mask != after
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    return _mask_change(state, name, (x0, y0, x1, y1), after[y0:y1, x0:x1], text)


def _pairs_change(
    state: SessionState, pairs: list[DragPair], text: str, merge_key: object = None
) -> ValueChange:
    return ValueChange("pairs", list(state.pairs), pairs, text, merge_key)


def add_point(state: SessionState, point: Point) -> ValueChange:
    """The first click adds a handle, the next one its target (numbered arrows)."""
    pairs = list(state.pairs)
    if pairs and pairs[-1].target is None:
        pairs[-1] = DragPair(pairs[-1].handle, point)
        text = f"Add target {len(pairs)}"
    else:
        pairs.append(DragPair(point))
        text = f"Add handle {len(pairs)}"
    return _pairs_change(state, pairs, text)


def move_point(
    state: SessionState, index: int, which: str, point: Point, nudge: bool = False
) -> ValueChange | None:
    """Move a handle or a target; nudges of the same point share a merge key."""
    pairs = list(state.pairs)
    pair = pairs[index]
    if (pair.handle if which == "handle" else pair.target) == point:
        return None
    moved = DragPair(point, pair.target) if which == "handle" else DragPair(pair.handle, point)
    pairs[index] = moved
    key = (index, which) if nudge else None
    return _pairs_change(state, pairs, f"Move {which} {index + 1}", key)


def set_pairs(state: SessionState, pairs: list[DragPair], text: str) -> ValueChange | None:
    return None if pairs == state.pairs else _pairs_change(state, pairs, text)


def delete_pair(state: SessionState, index: int) -> ValueChange:
    pairs = list(state.pairs)
    del pairs[index]
    return _pairs_change(state, pairs, f"Delete pair {index + 1}")


def clear_pairs(state: SessionState) -> ValueChange | None:
    return set_pairs(state, [], "Clear points")


def place(
    state: SessionState, field: str, what: str, after: Any, nudge: bool
) -> ValueChange | None:
    """One gesture (a drag or a corner scale) or a series of nudges of the move box
    ("box") or the paste layer ("paste")."""
    before = getattr(state, field)
    if after == before:
        return None
    text = f"{'Scale' if after.scale != before.scale else 'Move'} {what}"
    return ValueChange(field, before, after, text, field if nudge else None)


# -- the face task's set-up ---------------------------------------------------------------


def set_face(
    state: SessionState, after: FaceSetup, text: str, merge_key: object = None
) -> ValueChange | None:
    before = state.face_setup
    return None if after == before else ValueChange("face_setup", before, after, text, merge_key)


def drag_face_point(
    state: SessionState, index: int, target: tuple[float, float], nudge: bool = False
) -> ValueChange | None:
    """Point `index`'s target moves to `target`: the user's own offset for it changes by the
    distance, whatever the other sources add. A held point (its group off) stays put."""
    face = chosen_face(state)
    if face is None or held(state.face_setup)[index]:
        return None
    now = targets_of(state, face)[index]
    dx, dy = state.face_setup.offset(index)
    offset = (index, dx + float(target[0] - now[0]), dy + float(target[1] - now[1]))
    others = _dragged_but(state.face_setup, index)
    dragged = others if offset[1:] == (0.0, 0.0) else (*others, offset)
    key = ("point", index) if nudge else None
    text = f"Move face point {index + 1}"
    return set_face(state, replace(state.face_setup, dragged=dragged), text, key)


def undrag_face_point(state: SessionState, index: int) -> ValueChange | None:
    """Point `index` loses the user's own offset (Delete): its target is where the other
    sources put it. Dropping the offset, not dragging it back, leaves no rounding behind."""
    dragged = _dragged_but(state.face_setup, index)
    text = f"Put back face point {index + 1}"
    return set_face(state, replace(state.face_setup, dragged=dragged), text)


def _dragged_but(setup: FaceSetup, index: int) -> tuple[tuple[int, float, float], ...]:
    return tuple(drag for drag in setup.dragged if drag[0] != index)


def set_slider(
    state: SessionState, name: str, value: float, gesture: object = None
) -> ValueChange | None:
    """One slider; changes sharing a `gesture` (one drag of the slider) make one undo step."""
    sliders = replace(state.face_setup.sliders, **{name: value})
    label = name.replace("_", " ")
    key = None if gesture is None else ("slider", name, gesture)
    return set_face(state, replace(state.face_setup, sliders=sliders), f"Face slider: {label}", key)


def toggle_group(state: SessionState, name: str, on: bool) -> ValueChange | None:
    now = set(state.face_setup.groups)
    chosen = (now | {name}) if on else (now - {name})
    groups = tuple(group for group in GROUPS if group in chosen)
    text = f"{'Move' if on else 'Hold'} the face's {name}"
    return set_face(state, replace(state.face_setup, groups=groups), text)


def transfer_reference(state: SessionState, on: bool) -> ValueChange | None:
    text = "Transfer the reference face" if on else "Stop transferring the reference face"
    return set_face(state, replace(state.face_setup, reference=on), text)


def choose_face(state: SessionState, index: int) -> ValueChange | None:
    """Another face of the image: its points start unmoved; the groups stay as chosen."""
    after = FaceSetup(chosen=index, groups=state.face_setup.groups)
    return set_face(state, after, f"Choose face {index + 1}")


def reset_face(state: SessionState) -> ValueChange | None:
    """Every target back on its point: sliders at 0, drags and the transfer undone."""
    return set_face(state, state.face_setup.at_rest(), "Reset the face points")
