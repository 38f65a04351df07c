"""Undo commands: the Qt adapter of the gestures. One gesture, one command, sized to the
change that gestures.py computes; consecutive nudges of the same thing merge.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtGui import QUndoCommand

from diffeditor_app.document import gestures
from diffeditor_app.document.gestures import MaskChange, ValueChange
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import BBox, EditSetup, MaskName, MoveBox, PasteLayer
from diffeditor_app.document.tasks import DOCUMENT_TASKS
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.requests import Point

# Qt merges only commands of one id
MERGE_IDS = {"pairs": 1001, "box": 1002, "paste": 1003, "face_setup": 1004}


class MaskEdit(QUndoCommand):
    def __init__(self, session: EditSession, change: MaskChange) -> None:
        super().__init__(change.text)
        self.session, self.change = session, change

    def redo(self) -> None:
        self.session._apply_mask(self.change.name, self.change.bbox, self.change.after)

    def undo(self) -> None:
        self.session._apply_mask(self.change.name, self.change.bbox, self.change.before)


class ValueEdit(QUndoCommand):
    def __init__(self, session: EditSession, change: ValueChange) -> None:
        super().__init__(change.text)
        self.change = change
        self.apply = getattr(session, f"_apply_{change.field}")

    def id(self) -> int:
        return MERGE_IDS[self.change.field] if self.change.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, ValueEdit):
            return False
        last, mine = other.change, self.change
        if (last.field, last.merge_key) != (mine.field, mine.merge_key):
            return False
        self.change = replace(mine, after=last.after)
        return True

    def redo(self) -> None:
        self.apply(self.change.after)

    def undo(self) -> None:
        self.apply(self.change.before)


def _push(session: EditSession, change: MaskChange | ValueChange | None) -> bool:
    """One undo step for a gesture that changes something; True when pushed."""
    if change is None:
        return False
    command = MaskEdit if isinstance(change, MaskChange) else ValueEdit
    session.undo_stack.push(command(session, change))
    return True


def stroke(
    session: EditSession, name: MaskName, bbox: BBox, after: np.ndarray, erase: bool
) -> bool:
    return _push(session, gestures.stroke(session.state, name, bbox, after, erase))


def clear_mask(session: EditSession, name: MaskName) -> None:
    _push(session, gestures.clear_mask(session.state, name))


def invert_mask(session: EditSession, name: MaskName) -> None:
    _push(session, gestures.invert_mask(session.state, name))


def replace_mask(session: EditSession, name: MaskName, after: np.ndarray, text: str) -> bool:
    return _push(session, gestures.replace_mask(session.state, name, after, text))


def add_point(session: EditSession, point: Point) -> None:
    _push(session, gestures.add_point(session.state, point))


def move_point(
    session: EditSession, index: int, which: str, point: Point, nudge: bool = False
) -> None:
    _push(session, gestures.move_point(session.state, index, which, point, nudge))


def delete_pair(session: EditSession, index: int) -> None:
    _push(session, gestures.delete_pair(session.state, index))


def clear_points(session: EditSession) -> None:
    """Edit > Clear points: the task's own points (the drag pairs; the face's targets)."""
    _push(session, DOCUMENT_TASKS[session.task].clear_points(session.state))


def set_box(session: EditSession, box: MoveBox, nudge: bool = False) -> None:
    _push(session, gestures.place(session.state, "box", "object", box, nudge))


def set_paste(session: EditSession, paste: PasteLayer, nudge: bool = False) -> None:
    _push(session, gestures.place(session.state, "paste", "paste layer", paste, nudge))


def face_change(session: EditSession, change: ValueChange | None) -> bool:
    """A face gesture (gestures.py: drag a point, a slider, a group, the transfer, the face
    chosen, a reset) as one undo step."""
    return _push(session, change)


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
        mask = follow.object_mask
        _push(session, gestures.replace_mask(session.state, MaskName.OBJECT, mask, "Follow object"))
    for name in follow.cleared:
        clear_mask(session, name)
    if follow.box is not None:
        set_box(session, follow.box)
    if follow.pairs is not None:
        _push(session, gestures.set_pairs(session.state, list(follow.pairs), "Clear points"))
    if follow.paste is not None:
        set_paste(session, follow.paste)
    if follow.face_setup is not None:
        _push(session, gestures.set_face(session.state, follow.face_setup, "Spend the face points"))
    stack.endMacro()
