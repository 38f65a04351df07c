"""Undo commands: one gesture, one command, sized to the change.

A brush stroke stores its bounding box and the pixels before and after; point and box
gestures store the values before and after; consecutive nudges of the same thing merge.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QUndoCommand

from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import BBox, DragPair, EditSetup, MaskName, MoveBox, PasteLayer
from diffeditor_app.document.tasks import DOCUMENT_TASKS
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.requests import Point

NUDGE_ID = 1001  # QUndoCommand.id() of mergeable nudges


class MaskEdit(QUndoCommand):
    """A stroke, a fill, a clear or an invert of one mask, inside a bounding box."""

    def __init__(
        self, session: EditSession, name: MaskName, bbox: BBox, after: np.ndarray, text: str
    ) -> None:
        super().__init__(text)
        x0, y0, x1, y1 = bbox
        self.session, self.name, self.bbox = session, name, bbox
        self.before = session.mask(name)[y0:y1, x0:x1].copy()
        self.after = after.astype(bool, copy=True)

    def redo(self) -> None:
        self.session._apply_mask(self.name, self.bbox, self.after)

    def undo(self) -> None:
        self.session._apply_mask(self.name, self.bbox, self.before)


def whole(mask: np.ndarray) -> BBox:
    return 0, 0, mask.shape[1], mask.shape[0]


def stroke(
    session: EditSession, name: MaskName, bbox: BBox, after: np.ndarray, erase: bool
) -> bool:
    """Push a brush stroke unless it changed nothing; True when pushed."""
    x0, y0, x1, y1 = bbox
    if np.array_equal(session.mask(name)[y0:y1, x0:x1], after):
        return False
    session.undo_stack.push(MaskEdit(session, name, bbox, after, "Erase" if erase else "Paint"))
    return True


def clear_mask(session: EditSession, name: MaskName) -> None:
    mask = session.mask(name)
    if mask.any():
        session.undo_stack.push(
            MaskEdit(session, name, whole(mask), np.zeros_like(mask), f"Clear {name.value} mask")
        )


def invert_mask(session: EditSession, name: MaskName) -> None:
    mask = session.mask(name)
    session.undo_stack.push(
        MaskEdit(session, name, whole(mask), ~mask, f"Invert {name.value} mask")
    )


def replace_mask(session: EditSession, name: MaskName, after: np.ndarray, text: str) -> bool:
    """A selection or a refinement: one step over the bounding box of what changed, and
    nothing when nothing did; True when pushed."""
    mask = session.mask(name)
    if after.shape != mask.shape:
        raise ValueError(f"a {after.shape} selection for a {mask.shape} mask")
    changed = mask != after
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return False
    cols = np.flatnonzero(changed.any(axis=0))
    x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    session.undo_stack.push(MaskEdit(session, name, (x0, y0, x1, y1), after[y0:y1, x0:x1], text))
    return True


class ValueEdit(QUndoCommand):
    """A whole-value change of the move box, the paste layer or the drag pairs. Commands with
    the same `merge_key` (a series of arrow-key nudges of one thing) merge into one step."""

    merge_id = NUDGE_ID + 1  # Qt merges only commands of one id: one per kind of value

    def __init__(self, apply, before, after, text: str, merge_key: object = None) -> None:
        super().__init__(text)
        self.apply, self.before, self.after, self.merge_key = apply, before, after, merge_key

    def id(self) -> int:
        return self.merge_id if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if type(other) is not type(self) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        self.apply(self.after)

    def undo(self) -> None:
        self.apply(self.before)


class PairsEdit(ValueEdit):
    """The drag pairs, as a whole list; a nudge of the same point merges with the last."""

    merge_id = NUDGE_ID

    def __init__(
        self, session: EditSession, after: list[DragPair], text: str, merge_key: object = None
    ) -> None:
        before = list(session.state.pairs)
        super().__init__(session._apply_pairs, before, list(after), text, merge_key)


def add_point(session: EditSession, point: Point) -> None:
    """The first click adds a handle, the next one its target (numbered arrows)."""
    pairs = list(session.state.pairs)
    if pairs and pairs[-1].target is None:
        pairs[-1] = DragPair(pairs[-1].handle, point)
        text = f"Add target {len(pairs)}"
    else:
        pairs.append(DragPair(point))
        text = f"Add handle {len(pairs)}"
    session.undo_stack.push(PairsEdit(session, pairs, text))


def move_point(
    session: EditSession, index: int, which: str, point: Point, nudge: bool = False
) -> None:
    """Move a handle or a target; nudges of the same point merge into one step."""
    pairs = list(session.state.pairs)
    pair = pairs[index]
    if which == "handle":
        if pair.handle == point:
            return
        pairs[index] = DragPair(point, pair.target)
    else:
        if pair.target == point:
            return
        pairs[index] = DragPair(pair.handle, point)
    key = (index, which) if nudge else None
    session.undo_stack.push(PairsEdit(session, pairs, f"Move {which} {index + 1}", key))


def delete_pair(session: EditSession, index: int) -> None:
    pairs = list(session.state.pairs)
    del pairs[index]
    session.undo_stack.push(PairsEdit(session, pairs, f"Delete pair {index + 1}"))


def clear_pairs(session: EditSession) -> None:
    if session.state.pairs:
        session.undo_stack.push(PairsEdit(session, [], "Clear points"))


def _place(session: EditSession, name: str, what: str, after, nudge: bool) -> None:
    """One gesture (a drag or a corner scale) or a merged series of nudges of the move box
    ("box") or the paste layer ("paste")."""
    before = getattr(session.state, name)
    if after == before:
        return
    text = f"{'Scale' if after.scale != before.scale else 'Move'} {what}"
    apply = getattr(session, f"_apply_{name}")
    session.undo_stack.push(ValueEdit(apply, before, after, text, name if nudge else None))


def set_box(session: EditSession, box: MoveBox, nudge: bool = False) -> None:
    _place(session, "box", "object", box, nudge)


def set_paste(session: EditSession, paste: PasteLayer, nudge: bool = False) -> None:
    _place(session, "paste", "paste layer", paste, nudge)


class ReferenceEdit(QUndoCommand):
    """Load (or remove) the reference image; its mask starts empty."""

    def __init__(self, session: EditSession, reference: SourceImage | None) -> None:
        super().__init__("Load reference" if reference is not None else "Remove reference")
        self.session = session
        self.before = (session.state.reference, session.state.masks.get(MaskName.REFERENCE))
        mask = None
        if reference is not None:
            mask = np.zeros((reference.height, reference.width), dtype=bool)
        self.after = (reference, mask)

    def redo(self) -> None:
        self.session._apply_reference(*self.after)

    def undo(self) -> None:
        self.session._apply_reference(*self.before)


def set_reference(session: EditSession, reference: SourceImage | None) -> None:
    session.undo_stack.push(ReferenceEdit(session, reference))


class KeepResult(QUndoCommand):
    """A kept result becomes the current image; the original is never touched."""

    def __init__(self, session: EditSession, image: SourceImage) -> None:
        super().__init__("Keep result")
        self.session = session
        self.before = (session.state.current, list(session.state.kept))
        self.after = (image, [*session.state.kept, image])

    def redo(self) -> None:
        self.session._apply_current(*self.after)

    def undo(self) -> None:
        self.session._apply_current(*self.before)


def keep_result(
    session: EditSession, image: SourceImage, made_with: EditSetup | None = None
) -> None:
    """Keep a result, and make what was set up for it follow the kept image, as one undo
    step (the task's `follow_up`, document/tasks.py). `made_with` is the set-up the edit ran
    with (the candidate's), so a task chosen since does not change what Keep does; None:
    the session's own."""
    setup = made_with or EditSetup.of(session.state)
    follow = DOCUMENT_TASKS[setup.task].follow_up(session.state, setup)
    stack = session.undo_stack
    stack.beginMacro("Keep result")
    stack.push(KeepResult(session, image))
    if follow.object_mask is not None:
        mask = session.mask(MaskName.OBJECT)
        if not np.array_equal(follow.object_mask, mask):
            stack.push(
                MaskEdit(session, MaskName.OBJECT, whole(mask), follow.object_mask, "Follow object")
            )
    for name in follow.cleared:
        clear_mask(session, name)
    if follow.box is not None:
        set_box(session, follow.box)
    if follow.pairs is not None and list(follow.pairs) != session.state.pairs:
        stack.push(PairsEdit(session, list(follow.pairs), "Clear points"))
    if follow.paste is not None:
        set_paste(session, follow.paste)
    stack.endMacro()
