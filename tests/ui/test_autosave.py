"""The whole session is autosaved within the autosave delay of any change, not only after
Keep, and a window started after a crash offers it back (issue 24)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from diffeditor_app.document import commands
from diffeditor_app.document.state import MaskName, MoveBox
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.ui.app import create_window
from tests.ui.conftest import saved_scene

DELAY_MS = 50  # the app waits 30 s; a test need not


def open_window(tmp_path, tiny_model_dir, qtbot, name: str):
    window = create_window(
        tmp_path / name / "settings.json",
        tmp_path / "data",  # both windows share the data folder, as two runs of the app do
        ModelSpec(str(tiny_model_dir), device="cpu"),
        autosave_delay_ms=DELAY_MS,
    )
    qtbot.addWidget(window)
    window.show()
    return window


def test_strokes_without_keep_are_autosaved_and_offered_back(
    tmp_path, tiny_model_dir, qtbot, answers
):
    path, mask = saved_scene(tmp_path)
    crashed = open_window(tmp_path, tiny_model_dir, qtbot, "first")
    crashed.files.open_image(path)
    autosave = crashed.files.autosave_path
    assert not autosave.exists()  # opening is not a change
    commands.stroke(crashed.session, MaskName.OBJECT, (0, 0, 96, 64), mask, erase=False)
    commands.set_box(crashed.session, MoveBox(dx=8, dy=2))
    crashed.task_actions[Task.DRAG].trigger()
    commands.add_point(crashed.session, Point(40, 30))
    prompt = crashed.edit_panel.prompt
    prompt.setFocus()
    qtbot.keyClicks(prompt, "a red square")
    qtbot.keyClick(prompt, Qt.Key.Key_Return)
    qtbot.waitUntil(autosave.is_file, timeout=5000)
    qtbot.wait(2 * DELAY_MS)  # the last change's autosave, too
    crashed.files.autosaver.wait()
    assert [p.name for p in autosave.parent.iterdir()] == [autosave.name]  # no temp file left
    crashed.worker.shutdown()  # the process dies here: no close, no clean-up

    answers.queued = [QMessageBox.StandardButton.Yes]
    again = open_window(tmp_path, tiny_model_dir, qtbot, "second")
    assert again.files.offer_recovery()
    assert "scene.png" in answers[-1][1]  # the question names the file it came from
    state = again.session.state
    assert (state.masks[MaskName.OBJECT] == mask).all()
    assert state.box == MoveBox(dx=8, dy=2) and len(state.pairs) == 1
    assert state.task is Task.DRAG and state.prompt == "a red square"
    assert again.windowTitle().startswith("scene.png (recovered)")
    again.worker.shutdown()


def test_a_clean_quit_leaves_no_autosave(tmp_path, tiny_model_dir, qtbot):
    path, mask = saved_scene(tmp_path)
    window = open_window(tmp_path, tiny_model_dir, qtbot, "only")
    window.files.open_image(path)
    commands.stroke(window.session, MaskName.OBJECT, (0, 0, 96, 64), mask, erase=False)
    qtbot.waitUntil(window.files.autosave_path.is_file, timeout=5000)
    assert window.close()  # the conftest answers Discard
    assert not window.files.autosave_path.exists()


def test_the_autosaves_mask_copies_follow_strokes_clears_and_a_new_reference(session):
    from diffeditor_app.engine.imaging.images import SourceImage
    from diffeditor_app.ui.file_controller import MaskCopies

    copies = MaskCopies()
    copies.restart(session.state.masks)
    session.mask_changed.connect(copies.note)
    _, mask = square_scene(96, 64)
    commands.stroke(session, MaskName.OBJECT, (0, 0, 96, 64), mask, erase=False)
    commands.add_point(session, Point(3, 3))
    commands.invert_mask(session, MaskName.REGION)
    commands.set_reference(session, SourceImage(session.image.rgb[:32, :48].copy()))
    updated = copies.update(session.state.masks)
    assert updated.keys() == session.state.masks.keys()
    for name, live in session.state.masks.items():
        assert (updated[name] == live).all() and updated[name] is not live


CRASHING_RUN = """
import os, signal, sys, time
from pathlib import Path
from PIL import Image
from PySide6.QtWidgets import QApplication
from diffeditor_app.document import commands
from diffeditor_app.document.state import MaskName
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.ui.app import create_window

folder, model = Path(sys.argv[1]), sys.argv[2]
app = QApplication([])
window = create_window(folder / "run" / "settings.json", folder / "data",
                       ModelSpec(model, device="cpu"), autosave_delay_ms=50)
window.show()
image, mask = square_scene(96, 64)
Image.fromarray(image.rgb).save(folder / "scene.png")
window.files.open_image(folder / "scene.png")
commands.stroke(window.session, MaskName.OBJECT, (0, 0, 96, 64), mask, erase=False)
deadline = time.monotonic() + 60
while not window.files.autosave_path.is_file() and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
window.files.autosaver.wait()
os.kill(os.getpid(), signal.SIGKILL)  # a crash: no close, no clean-up, no exit handlers
"""


def test_a_killed_process_leaves_its_strokes_to_the_next_run(
    tmp_path, tiny_model_dir, qtbot, answers
):
    """Kill the app's process after a stroke and before any Keep; the next run offers the
    strokes back."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, str(tmp_path), str(tiny_model_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    answers.queued = [QMessageBox.StandardButton.Yes]
    again = open_window(tmp_path, tiny_model_dir, qtbot, "next")
    assert again.files.offer_recovery()
    _, mask = square_scene(96, 64)
    assert (again.session.state.masks[MaskName.OBJECT] == mask).all()
    again.worker.shutdown()
