"""Keep, Discard and Run again sit at fixed places and have keys (Keep: Return or K,
Discard: Delete or D, Run again: R); Escape cancels a running edit (issue 24)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from diffeditor_app.document.state import Candidate, EditSetup
from diffeditor_app.engine.imaging.images import SourceImage

TIMEOUT_MS = 120_000


@pytest.fixture
def window(square_window):
    square_window.session.set_options(steps=2)
    square_window.canvas.setFocus()
    return square_window


def stage_result(window, summary: str = "seed 7 · 1.0 s") -> SourceImage:
    result = SourceImage(np.full_like(window.session.image.rgb, 90))
    setup = EditSetup.of(window.session.state)
    window.session.add_candidate(Candidate(result, 7, summary, setup))
    window.edits.show(len(window.session.candidates) - 1)
    return result


@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_K])
def test_keep_keys(window, key):
    result = stage_result(window)
    QTest.keyClick(window, key)
    assert window.session.image is result and window.session.candidates == []


@pytest.mark.parametrize("key", [Qt.Key.Key_Delete, Qt.Key.Key_D])
def test_discard_keys(window, key):
    original = window.session.image
    stage_result(window)
    QTest.keyClick(window, key)
    assert window.session.candidates == [] and window.session.image is original


def test_discarding_the_last_of_two_results_shows_the_one_left(window):
    first = stage_result(window, "seed 7 · 1.0 s")
    stage_result(window, "seed 8 · 1.0 s")
    QTest.keyClick(window, Qt.Key.Key_D)
    assert len(window.session.candidates) == 1
    assert window.edits.index == 0
    assert window.edits.bar.label.text().startswith("Result 1 of 1 · seed 7")
    QTest.keyClick(window, Qt.Key.Key_K)  # and that one can be kept
    assert window.session.image is first


def test_r_runs_again_and_escape_cancels(window, qtbot):
    stage_result(window)
    seed = window.session.state.seed
    with qtbot.waitSignal(window.edits.submitted, timeout=1000):
        QTest.keyClick(window, Qt.Key.Key_R)
    assert window.worker.busy and window.session.state.seed != seed
    with qtbot.waitSignal(window.worker.cancelled, timeout=TIMEOUT_MS):
        QTest.keyClick(window, Qt.Key.Key_Escape)
    assert window.edit_panel.status.text() == "Cancelled."


def test_the_keys_do_nothing_without_a_result(window, qtbot):
    with qtbot.assertNotEmitted(window.edits.submitted, wait=100):
        QTest.keyClick(window, Qt.Key.Key_R)
    QTest.keyClick(window, Qt.Key.Key_K)
    assert window.session.undo_stack.index() == 2  # the stroke and the box, nothing kept


def test_the_buttons_stay_put_whatever_the_summary(window, qtbot):
    stage_result(window, "seed 7 · 1.0 s")
    qtbot.waitUntil(window.candidates.isVisible)
    bar = window.candidates
    places = [b.geometry() for b in (bar.keep, bar.discard, bar.again)]
    stage_result(window, "seed 123456789 · 1234.5 s, with a note that runs on and on " * 3)
    window.candidates.layout().activate()
    assert [b.geometry() for b in (bar.keep, bar.discard, bar.again)] == places
    assert window.candidates.width() <= window.centralWidget().width()
