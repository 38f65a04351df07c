"""Keys go where the user expects: back to the canvas after every panel button, tool keys
never type into a field, Ctrl+Z acts on the document, `\\` compares wherever the focus is;
Cancel says so at once; the panel shows real numbers before anything is loaded."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from diffeditor_app.document import commands
from diffeditor_app.document.state import Candidate, EditSetup, MoveBox, SessionState
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.models.model import ModelProfile
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.ui.app import create_window, demo_model
from diffeditor_app.ui.panels import EditPanel

TIMEOUT_MS = 120_000


@pytest.fixture
def window(square_window):
    square_window.session.set_text(prompt="a red square")
    return square_window


def stage_result(window) -> None:
    """A finished edit waiting below the canvas, without running one."""
    result = SourceImage(np.full_like(window.session.image.rgb, 90))
    setup = EditSetup.of(window.session.state)
    window.session.add_candidate(Candidate(result, 7, "seed 7 · 1.0 s", setup))
    window.edits.show(len(window.session.candidates) - 1)


def press(qtbot, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """A key as the user types it: to whichever widget has the focus."""
    target = QApplication.focusWidget()
    assert target is not None
    qtbot.keyClick(target, key, modifier)


def test_after_keep_the_keys_belong_to_the_canvas(window, qtbot):
    window.edit_panel.prompt.setFocus()  # the user typed a prompt before
    stage_result(window)
    qtbot.mouseClick(window.candidates.keep, Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is window.canvas
    window.set_tool("pan")
    press(qtbot, Qt.Key.Key_B)  # the brush key chooses the brush, types nothing
    assert window.canvas.tool == "brush" and window.edit_panel.prompt.text() == "a red square"
    kept = window.session.image
    press(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undoes the Keep
    assert window.session.image is not kept and window.session.state.box == MoveBox(dx=8)
    press(
        qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert window.session.image is kept


@pytest.mark.parametrize("button", ["discard", "again", "previous"])
def test_every_candidate_button_hands_the_keys_back(window, qtbot, button, monkeypatch):
    monkeypatch.setattr(window.edits, "run", lambda fresh_seed=False: None)
    stage_result(window)
    stage_result(window)
    window.edit_panel.prompt.setFocus()
    qtbot.mouseClick(getattr(window.candidates, button), Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is window.canvas


def test_panel_buttons_never_take_the_focus(window, qtbot):
    for button in (*window.edit_panel.buttons(), *window.candidates.buttons()):
        assert button.focusPolicy() == Qt.FocusPolicy.NoFocus, button.text()
    window.edit_panel.prompt.setFocus()
    qtbot.mouseClick(window.edit_panel.new_seed, Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is window.canvas


def test_return_or_escape_in_a_prompt_hands_the_keys_back(window, qtbot):
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Escape):
        window.edit_panel.prompt.setFocus()
        window.edit_panel.prompt.end(False)
        press(qtbot, Qt.Key.Key_X)
        press(qtbot, key)
        assert QApplication.focusWidget() is window.canvas
    assert window.session.state.prompt == "a red squarexx"


def test_hold_to_compare_works_wherever_the_focus_is_but_a_field(window, qtbot):
    window.history.setFocus()
    qtbot.keyPress(window.history, Qt.Key.Key_Backslash)
    assert window.canvas.comparing
    qtbot.keyRelease(window.history, Qt.Key.Key_Backslash)
    assert not window.canvas.comparing
    window.edit_panel.prompt.setFocus()
    window.edit_panel.prompt.clear()
    qtbot.keyClick(window.edit_panel.prompt, Qt.Key.Key_Backslash)
    assert not window.canvas.comparing and window.edit_panel.prompt.text() == "\\"


def test_cancel_says_cancelling_at_once_and_stops(window, qtbot):
    window.session.set_options(steps=30)
    panel = window.edit_panel
    seen = []

    def on_preparing(job, done, total):
        if done == 1:
            panel.cancel_button.click()
            seen.append(panel.status.text())

    window.worker.preparing.connect(on_preparing)
    with qtbot.waitSignal(window.worker.cancelled, timeout=TIMEOUT_MS):
        window.edits.run()
    assert seen == ["Cancelling…"]
    assert panel.status.text() == "Cancelled." and window.session.candidates == []


def test_the_bar_and_the_text_count_the_same_steps(qtbot):
    panel = EditPanel()
    qtbot.addWidget(panel)
    panel.set_running(True)
    panel.show_progress(12, 50, 3.0)
    assert panel.progress.text() == "Step 12 of 50" and panel.status.text().startswith("Step 12")


def test_real_defaults_show_before_an_image_or_a_model(qtbot):
    panel = EditPanel()
    qtbot.addWidget(panel)
    defaults = ModelProfile().task_settings(Task.MOVE)
    assert panel.seed.value() == SessionState.seed and panel.steps.value() == 50
    assert defaults.guidance_strength > 0
    assert panel.guidance.placeholderText() == f"{defaults.guidance_strength:g}"
    assert panel.eta_in.placeholderText() == f"{defaults.eta_in:g}"


def test_status_after_keep_and_task_switch(window, qtbot):
    stage_result(window)
    window.edit_panel.status.setText("Done: seed 7 · 1.0 s. Keep or discard the result below.")
    window.edits.keep()
    status = window.edit_panel.status.text()
    assert status.startswith("Kept.") and "moved object" in status
    window.edit_panel.status.setText("Done: …")
    window.set_task(Task.DRAG)
    assert window.edit_panel.status.text() == ""


def test_brush_size_is_shown(window):
    window.settings.set("brush_sizes", ["64:21"])
    assert window.brush_label.text() == "Brush 21 px"
    window.canvas.brush_size = 30
    assert window.brush_label.text() == "Brush 30 px"


def test_the_toy_model_says_when_an_image_is_not_a_toy_scene(qtbot, tmp_path):
    toy = create_window(tmp_path / "settings.json", tmp_path / "data", demo_model())
    qtbot.addWidget(toy)
    photo = tmp_path / "photo.png"
    Image.new("RGB", (640, 480), (90, 120, 60)).save(photo)
    toy.files.open_image(photo)
    assert "toy model" in toy.statusBar().currentMessage()
    toy.statusBar().clearMessage()
    scene = tmp_path / "scene.png"
    Image.new("RGB", (64, 64), (90, 120, 60)).save(scene)
    toy.files.open_image(scene)
    assert toy.statusBar().currentMessage() == ""
    toy.worker.shutdown()


def test_ctrl_q_quits_and_ctrl_y_redoes_on_every_platform(window, qtbot):
    """Qt's standard Quit key is empty on Windows and a bare X server: the menu's own."""
    quits = []
    window.quit_action.triggered.disconnect()
    window.quit_action.triggered.connect(lambda: quits.append(True))
    try:
        window.canvas.setFocus()
        press(qtbot, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
        assert quits == [True]
    finally:
        window.quit_action.triggered.disconnect()
        window.quit_action.triggered.connect(window.close)
    before = window.session.state.box
    commands.set_box(window.session, MoveBox(dx=20))
    window.undo_action.trigger()
    assert window.session.state.box == before
    press(qtbot, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert window.session.state.box == MoveBox(dx=20)


def test_a_prompt_typed_then_a_task_switched_stays_with_its_task(window, qtbot):
    """The task buttons take no focus, so the field has not written its text yet: switching
    must not drop it, and each task shows its own prompt (issue 12)."""
    prompt = window.edit_panel.prompt
    prompt.setFocus()
    prompt.clear()
    qtbot.keyClicks(prompt, "a red square on grey")  # no Return, the focus stays
    window.task_actions[Task.APPEARANCE].trigger()
    assert window.session.state.prompts[Task.MOVE] == "a red square on grey"
    assert prompt.text() == ""
    assert prompt.placeholderText() != ""  # it asks for what the result shows
    qtbot.keyClicks(prompt, "a blue square")
    window.task_actions[Task.DRAG].trigger()
    assert prompt.text() == "a red square on grey"  # drag reads the image's, as move does
    assert prompt.cursorPosition() == 0  # another task's text shows from its start
    window.task_actions[Task.APPEARANCE].trigger()
    assert prompt.text() == "a blue square"
