"""Keep follows the task that made the result, not the task chosen since (issue 24: run
Move, click Drag, press Keep left the mask on the vacated place and wiped the points)."""

from __future__ import annotations

import numpy as np

from diffeditor_app.document import commands
from diffeditor_app.document.state import DragPair, MaskName, MoveBox
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.tasks.registry import Task
from tests.ui.conftest import saved_scene

TIMEOUT_MS = 120_000


def test_keep_after_a_task_switch_applies_the_move_that_made_the_result(
    tiny_window, tmp_path, qtbot
):
    window = tiny_window
    path, mask = saved_scene(tmp_path)
    window.files.open_image(path)
    window.task_actions[Task.MOVE].trigger()
    session = window.session
    commands.stroke(session, MaskName.OBJECT, (0, 0, 96, 64), mask, erase=False)
    commands.set_box(session, MoveBox(dx=16, dy=4))
    commands.add_point(session, Point(10, 10))
    commands.add_point(session, Point(20, 10))
    session.set_options(steps=2)
    with qtbot.waitSignal(window.worker.finished, timeout=TIMEOUT_MS):
        window.edit_panel.edit_button.click()
    window.task_actions[Task.DRAG].trigger()  # the user looks at another task
    commands.add_point(session, Point(30, 30))  # ... and starts its set-up
    window.candidates.keep.click()

    ys, xs = np.nonzero(session.mask(MaskName.OBJECT))
    original_ys, original_xs = np.nonzero(mask)
    assert xs.min() == original_xs.min() + 16 and ys.min() == original_ys.min() + 4
    assert session.state.box == MoveBox()
    assert session.state.pairs == [  # the move's follow-up leaves the drag's points alone
        DragPair(Point(10, 10), Point(20, 10)),
        DragPair(Point(30, 30)),
    ]
    assert "moved object" in window.edit_panel.status.text()
    window.undo_action.trigger()  # Keep is one step
    assert session.mask(MaskName.OBJECT).sum() == mask.sum() and session.state.box.dx == 16
