"""The gestures as pure functions: a change computed from the state, the state untouched,
no application needed (this module imports no Qt)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image

from diffeditor_app.document import gestures
from diffeditor_app.document.state import DragPair, MaskName, MoveBox, SessionState
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.requests import Point


def state() -> SessionState:
    return SessionState.for_image(SourceImage.from_pil(Image.new("RGB", (60, 40))))


def test_a_stroke_returns_its_box_before_and_after_and_leaves_the_state_alone():
    session = state()
    after = np.ones((4, 5), bool)
    change = gestures.stroke(session, MaskName.OBJECT, (10, 20, 15, 24), after, erase=False)
    assert change.bbox == (10, 20, 15, 24) and change.text == "Paint"
    assert not change.before.any() and change.after.all()
    assert not session.masks[MaskName.OBJECT].any()
    after[:] = False  # the change holds its own copy
    assert change.after.all()


def test_gestures_that_change_nothing_return_none():
    session = state()
    empty = np.zeros((4, 5), bool)
    assert gestures.stroke(session, MaskName.OBJECT, (0, 0, 5, 4), empty, erase=True) is None
    assert gestures.clear_mask(session, MaskName.OBJECT) is None
    assert gestures.clear_pairs(session) is None
    assert gestures.place(session, "box", "object", MoveBox(), nudge=False) is None
    assert gestures.replace_mask(session, MaskName.OBJECT, np.zeros((40, 60), bool), "x") is None


def test_a_replaced_mask_changes_only_the_box_of_what_differs():
    session = state()
    after = np.zeros((40, 60), bool)
    after[5:9, 30:33] = True
    change = gestures.replace_mask(session, MaskName.OBJECT, after, "Select")
    assert change.bbox == (30, 5, 33, 9) and change.after.shape == (4, 3)


def test_clicks_add_a_handle_then_its_target():
    session = state()
    first = gestures.add_point(session, Point(1, 2))
    assert first.after == [DragPair(Point(1, 2))] and first.text == "Add handle 1"
    session.pairs = first.after
    second = gestures.add_point(session, Point(5, 6))
    assert second.after == [DragPair(Point(1, 2), Point(5, 6))] and second.text == "Add target 1"
    assert second.before == first.after


def test_nudges_of_one_point_share_a_merge_key_and_a_drag_has_none():
    session = state()
    session.pairs = [DragPair(Point(1, 2), Point(5, 6))]
    nudge = gestures.move_point(session, 0, "target", Point(6, 6), nudge=True)
    dragged = gestures.move_point(session, 0, "handle", Point(0, 0))
    assert nudge.merge_key == (0, "target") and dragged.merge_key is None
    assert nudge.after == [DragPair(Point(1, 2), Point(6, 6))]
    assert gestures.move_point(session, 0, "handle", Point(1, 2)) is None


def test_placing_says_whether_it_moved_or_scaled():
    session = state()
    moved = gestures.place(session, "box", "object", MoveBox(dx=3), nudge=True)
    scaled = gestures.place(session, "box", "object", MoveBox(scale=2), nudge=False)
    assert (moved.text, moved.merge_key) == ("Move object", "box")
    assert (scaled.text, scaled.merge_key) == ("Scale object", None)


def test_the_gestures_load_without_qt():
    code = (
        "import sys, diffeditor_app.document.gestures; "
        "sys.exit(any(m.startswith('PySide6') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
