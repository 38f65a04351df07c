"""The main window end to end: open, task switching, an edit through the worker with live
previews, candidates, keep and undo, cancel, errors as messages, projects, recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QMimeData, QPointF, QSize, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from diffeditor_app.document import commands
from diffeditor_app.document.state import MaskName, MoveBox
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.ui.app import create_window
from diffeditor_app.ui.window import MainWindow
from tests.ui.conftest import paint_rect

TIMEOUT_MS = 120_000


@pytest.fixture
def scene_path(tmp_path):
    image = Image.new("RGB", (96, 64), (200, 185, 150))
    ImageDraw.Draw(image).rectangle((24, 20, 40, 36), fill=(220, 30, 30))
    path = tmp_path / "scene.png"
    image.save(path)
    return path


@pytest.fixture
def messages(messages_shown):
    return messages_shown


@pytest.fixture
def window(tiny_window, messages):
    return tiny_window


def paint_object(window) -> None:
    paint_rect(window.session, slice(20, 37), slice(24, 41))
    commands.set_box(window.session, MoveBox(dx=16, dy=4))


def test_open_by_api_and_by_drop(window, scene_path, qtbot):
    assert window.files.open_image(scene_path)
    assert window.session.image.size == (96, 64)
    assert "96 × 64" in window.size_label.text()
    window.set_session(None)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(scene_path))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)
    assert window.session is not None and window.session.image.size == (96, 64)
    assert str(scene_path) in window.settings.get("recent_files")


def test_a_bad_file_is_a_message_and_the_app_survives(window, tmp_path, messages, scene_path):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    assert not window.files.open_image(bad)
    assert messages and "broken.png" in messages[0][1]
    assert window.files.open_image(scene_path)


def test_task_switch_picks_mask_and_tool(window, scene_path):
    window.files.open_image(scene_path)
    window.set_task(Task.DRAG)
    assert window.session.task is Task.DRAG and window.canvas.mask_name is MaskName.REGION
    window.set_task(Task.PASTE)
    assert window.canvas.tool == "paste" and window.reference_dock.isVisibleTo(window)
    window.set_task(Task.MOVE)
    assert window.canvas.tool == "brush" and window.canvas.mask_name is MaskName.OBJECT


def test_two_image_tasks_ask_for_the_result_in_the_prompt(window, scene_path):
    window.files.open_image(scene_path)
    prompt = window.edit_panel.prompt
    for task in (Task.APPEARANCE, Task.PASTE):
        window.set_task(task)
        assert "result" in prompt.placeholderText()
    window.set_task(Task.MOVE)
    assert "image shows" in prompt.placeholderText()


def test_edit_through_the_worker_with_previews_keep_and_undo(window, scene_path, qtbot):
    window.files.open_image(scene_path)
    paint_object(window)
    window.session.set_options(steps=5)
    previews = []
    window.worker.preview.connect(lambda job, p: previews.append(p))
    with qtbot.waitSignal(window.worker.finished, timeout=TIMEOUT_MS):
        window.edit_panel.edit_button.click()
    assert len(previews) == 5
    assert len(window.session.candidates) == 1 and window.candidates.isVisibleTo(window)
    original = window.session.image
    window.candidates.keep.click()
    assert window.session.image is not original and window.session.candidates == []
    window.files.autosaver.wait()
    assert window.files.autosave_path.is_file()
    window.undo()
    assert window.session.image is original


def test_run_again_and_browse_candidates(window, scene_path, qtbot):
    window.files.open_image(scene_path)
    paint_object(window)
    window.session.set_options(steps=3)
    for _ in range(2):
        with qtbot.waitSignal(window.worker.finished, timeout=TIMEOUT_MS):
            window.edits.run(fresh_seed=True)
    assert len(window.session.candidates) == 2 and window.edits.index == 1
    window.candidates.previous.click()
    assert window.edits.index == 0
    window.candidates.discard.click()
    assert len(window.session.candidates) == 1


def test_cancel_mid_run(window, scene_path, qtbot):
    window.files.open_image(scene_path)
    paint_object(window)
    window.session.set_options(steps=40)

    def cancel_after_two(job, preview, seen=[]):  # noqa: B006
        seen.append(preview)
        if len(seen) == 2:
            window.edit_panel.cancel_button.click()

    window.worker.preview.connect(cancel_after_two)
    with qtbot.waitSignal(window.worker.cancelled, timeout=TIMEOUT_MS):
        window.edits.run()
    assert window.session.candidates == []
    assert window.edit_panel.edit_button.isEnabled()


def test_engine_errors_are_messages(window, scene_path, messages):
    window.files.open_image(scene_path)
    window.edits.run()  # nothing painted
    assert messages and "empty" in messages[-1][1]


def test_export_never_overwrites_the_original(window, scene_path, messages, tmp_path):
    window.files.open_image(scene_path)
    before = scene_path.read_bytes()
    assert not window.files.export_image(scene_path)
    assert scene_path.read_bytes() == before and messages
    assert window.files.export_image(tmp_path / "out.jpg")
    assert Image.open(tmp_path / "out.jpg").size == (96, 64)


def test_project_round_trip_and_recovery_offer(window, scene_path, tmp_path, monkeypatch):
    window.files.open_image(scene_path)
    paint_object(window)
    window.files.project_path = tmp_path / "scene.diffedit"
    window.files.save_project()
    window.files.open_image(scene_path)
    assert window.files.open_project(tmp_path / "scene.diffedit")
    assert window.session.mask(MaskName.OBJECT).sum() == 17 * 17
    assert window.session.state.box == MoveBox(dx=16, dy=4)
    window.files.autosave()
    window.files.autosaver.wait()
    window.set_session(None)
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    assert window.files.offer_recovery()
    assert window.session.state.box == MoveBox(dx=16, dy=4)


def test_preferences_persist_across_a_restart(qtbot, tmp_path, scene_path, tiny_model_dir):
    path = tmp_path / "config" / "settings.json"
    first = create_window(path, tmp_path / "data", ModelSpec(str(tiny_model_dir)))
    qtbot.addWidget(first)
    first.files.open_image(scene_path)
    first.settings.set("refine_radius", 77)
    first.worker.shutdown()
    second = create_window(path, tmp_path / "data", ModelSpec(str(tiny_model_dir)))
    qtbot.addWidget(second)
    assert second.settings.get("refine_radius") == 77
    assert second.settings.get("recent_files") == [str(scene_path)]
    second.worker.shutdown()


def test_screenshot_renders_every_task_and_deletes_its_windows(tmp_path, qapp):
    from diffeditor_app.ui.app import screenshot

    def windows() -> int:
        return sum(isinstance(w, MainWindow) for w in qapp.topLevelWidgets())

    before = windows()
    for task in ("move", "drag", "appearance", "paste"):
        out = tmp_path / f"{task}.png"
        assert screenshot(out, task) == 0
        assert Image.open(out).size[0] > 600
    assert windows() == before  # deleted, not just closed: nothing left for the exit


def test_tool_options_follow_the_preferences(window, scene_path, qtbot):
    window.files.open_image(scene_path)
    window.settings.set("brush_sizes", ["64:21"])  # the scene's shorter side: 64 px
    assert window.canvas.brush_size == 21 and window.reference_canvas.brush_size == 21
    window.canvas.brush_size = 30  # what `]` does on the canvas
    assert window.settings.get("brush_sizes") == ["64:30"]


def test_backslash_shows_the_original_while_held(window, scene_path, qtbot):
    window.files.open_image(scene_path)
    qtbot.keyPress(window.canvas, Qt.Key.Key_Backslash)
    assert window.canvas.comparing
    qtbot.keyRelease(window.canvas, Qt.Key.Key_Backslash)
    assert not window.canvas.comparing


def test_the_resolution_preference_reaches_the_request(window, scene_path, qtbot, monkeypatch):
    window.files.open_image(scene_path)
    paint_object(window)
    window.settings.set("default_resolution", 256)
    sent = []
    monkeypatch.setattr(window.worker, "submit", lambda request, *_: sent.append(request))
    window.edits.run()
    assert sent[0].resolution == 256


# -- files in, files out ----------------------------------------------------------------------


def crafted_project(tmp_path, scene_path, change) -> Path:
    """A project saved by the app, with its manifest changed by `change`."""
    import json
    import zipfile

    from diffeditor_app.document.project import save_project
    from diffeditor_app.document.state import SessionState
    from diffeditor_app.engine.imaging.images import load_image

    good = tmp_path / "good.diffedit"
    save_project(SessionState.for_image(load_image(scene_path)), good)
    with zipfile.ZipFile(good) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(contents["project.json"])
    change(manifest)
    contents["project.json"] = json.dumps(manifest).encode()
    crafted = tmp_path / "crafted.diffedit"
    with zipfile.ZipFile(crafted, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return crafted


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["box"].update(dx="left"), "box.dx"),
        (lambda m: m["options"].update(steps="many"), "options.steps"),
    ],
    ids=["box dx is text", "steps is text"],
)
def test_crafted_project_is_a_message_and_the_app_keeps_running(
    window, scene_path, tmp_path, messages, qtbot, change, field
):
    window.files.open_image(scene_path)
    crafted = crafted_project(tmp_path, scene_path, change)
    assert not window.files.open_project(crafted)
    assert messages and field in messages[-1][1]
    assert window.files.image_path == scene_path  # the open image stays open
    window.canvas.viewport().repaint()
    window.show_model()
    assert window.files.open_image(scene_path)


def test_export_refuses_every_given_file(window, scene_path, messages, tmp_path):
    reference = tmp_path / "reference.png"
    Image.new("RGB", (40, 30), (10, 20, 30)).save(reference)
    window.files.open_image(scene_path)
    assert window.files.load_reference(reference)
    hard = tmp_path / "hard.png"
    hard.hardlink_to(scene_path)
    soft = tmp_path / "soft.png"
    soft.symlink_to(reference)
    given = {p: Path(p).read_bytes() for p in (scene_path, reference)}
    for target in (hard, soft, reference, tmp_path / "sub" / ".." / "scene.png"):
        messages.clear()
        assert not window.files.export_image(target)
        assert messages and "never overwritten" in messages[-1][1]
    assert {p: Path(p).read_bytes() for p in given} == given
    assert soft.is_symlink()


def test_export_notes_what_the_format_cannot_keep(window, tmp_path, messages):
    rgba = tmp_path / "rgba.png"
    Image.new("RGBA", (96, 64), (200, 100, 50, 128)).save(rgba)
    window.files.open_image(rgba)
    assert window.files.export_image(tmp_path / "out.jpg")
    status = window.statusBar().currentMessage()
    assert "alpha" in status and "lossy" in status
    assert window.files.export_image(tmp_path / "out.webp")
    with Image.open(tmp_path / "out.webp") as written:
        assert written.mode == "RGBA"
        assert np.array_equal(np.asarray(written), np.asarray(Image.open(rgba)))  # lossless


def test_screenshot_of_a_bad_file_exits_2_without_a_dialog(tmp_path, qapp, capsys, messages):
    from diffeditor_app.cli import main

    text = tmp_path / "notanimage.png"
    text.write_text("not a picture")
    out = tmp_path / "shot.png"
    code = main(["--screenshot", str(out), "--image", str(text)])
    err = capsys.readouterr().err
    assert code == 2
    assert messages == []  # no dialog was opened (offscreen, it would wait forever)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "notanimage.png" in lines[0], err
    assert not out.exists()


def test_screenshot_of_a_crafted_project_exits_2(tmp_path, qapp, capsys, messages, scene_path):
    from diffeditor_app.cli import main

    crafted = crafted_project(tmp_path, scene_path, lambda m: m["box"].update(dx="left"))
    code = main(["--screenshot", str(tmp_path / "shot.png"), "--image", str(crafted)])
    err = capsys.readouterr().err
    assert code == 2 and messages == []
    assert "box.dx" in err and len(err.strip().splitlines()) == 1


def test_screenshot_after_the_edit_shows_its_result(tmp_path, qapp):
    from diffeditor_app.ui.app import screenshot

    before, after = tmp_path / "before.png", tmp_path / "after.png"
    assert screenshot(before, "move", demo=True) == 0
    assert screenshot(after, "move", demo=True, edit=True) == 0  # the toy model, 50 steps
    assert not np.array_equal(np.asarray(Image.open(before)), np.asarray(Image.open(after)))


def test_screenshot_of_an_edit_that_cannot_run_exits_2(tmp_path, qapp, capsys, messages):
    from diffeditor_app.cli import main

    image = tmp_path / "plain.png"
    Image.new("RGB", (64, 64), (120, 140, 160)).save(image)
    out = tmp_path / "shot.png"
    code = main(["--screenshot", str(out), "--image", str(image), "--edit"])  # nothing painted
    err = capsys.readouterr().err
    assert code == 2 and messages == [] and not out.exists()
    assert "Cannot run the edit" in err and len(err.strip().splitlines()) == 1, err


# -- preferences the window keeps ----------------------------------------------------------------


def test_the_last_task_is_where_the_next_image_opens(window, scene_path):
    window.files.open_image(scene_path)
    window.set_task(Task.DRAG)
    assert window.settings.get("last_task") == "drag"
    window.files.open_image(scene_path)
    assert window.session.task is Task.DRAG and window.task_actions[Task.DRAG].isChecked()


FRAME_PX = 16  # a platform may count the window frame into the saved geometry


def test_the_window_comes_back_where_it_was_closed(tmp_path, qtbot, tiny_model_dir):
    settings = tmp_path / "config" / "settings.json"
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    first = create_window(settings, tmp_path / "data", spec)
    qtbot.addWidget(first)
    first.show()
    first.resize(first.minimumSizeHint().expandedTo(QSize(700, 520)))
    qtbot.waitUntil(lambda: first.width() >= 700)
    closed = (first.width(), first.height())
    first.close()
    assert first.settings.get("window_geometry")
    second = create_window(settings, tmp_path / "data", spec)
    qtbot.addWidget(second)
    size = (second.width(), second.height())  # not the first start's 1280 x 820
    assert abs(size[0] - closed[0]) <= FRAME_PX and abs(size[1] - closed[1]) <= FRAME_PX, size
    second.worker.shutdown()


def test_quitting_with_unwritable_settings_still_stops_the_worker(window, break_file_writes):
    break_file_writes()
    window.canvas.brush_size_changed.emit(7)  # what the app notes by itself never raises
    window.close()  # saving the window's place fails: the quit goes on
    assert not window.worker.thread.isRunning()


def test_live_previews_off_sends_the_job_without_previews(window, scene_path, monkeypatch):
    window.files.open_image(scene_path)
    paint_object(window)
    window.settings.set("live_previews", False)
    sent = []
    monkeypatch.setattr(window.worker, "submit", lambda *job: sent.append(job))
    window.edits.run()
    assert sent and sent[0][2] is False
