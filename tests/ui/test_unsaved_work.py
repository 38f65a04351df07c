"""Nothing is lost without a question: Save / Discard / Cancel before Open, New, Open
recent, drop and Quit; a recovered session is untitled and Save asks where; the autosave is
the app's own file; the demo keeps its own autosave slot."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from diffeditor_app.document.state import MaskName
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.ui.app import create_window, demo_model, prepare_demo
from diffeditor_app.ui.file_controller import AUTOSAVE_NAME, DEMO_AUTOSAVE_NAME
from tests.ui.conftest import paint_rect

Button = QMessageBox.StandardButton


@pytest.fixture
def image_paths(tmp_path):
    paths = []
    for name in ("first.png", "second.png"):
        image, _ = square_scene(64, 48)
        paths.append(tmp_path / name)
        Image.fromarray(image.rgb).save(paths[-1])
    return paths


@pytest.fixture
def window(tiny_window):
    return tiny_window


def paint(window) -> None:
    paint_rect(window.session, slice(5, 9), slice(5, 9))


def choose_file(monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: (str(path), ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(path), ""))


def test_opening_another_image_asks_and_cancel_keeps_the_work(
    window, image_paths, answers, monkeypatch
):
    first, second = image_paths
    choose_file(monkeypatch, first)
    window.files.choose_image()  # nothing open yet: no question
    assert answers == [] and window.files.image_path == first
    paint(window)
    assert window.isWindowModified() and window.windowTitle().startswith("first.png")
    session = window.session
    choose_file(monkeypatch, second)
    answers.queued = [Button.Cancel]
    window.files.choose_image()
    assert len(answers) == 1 and "first.png" in answers[0][1]
    assert window.session is session and window.files.image_path == first
    answers.queued = [Button.Discard]
    window.files.choose_image()
    assert window.files.image_path == second and not window.isWindowModified()


def test_save_from_the_question_writes_a_project_then_goes_on(
    window, image_paths, answers, monkeypatch, tmp_path
):
    first = image_paths[0]
    window.files.open_image(first)
    paint(window)
    project = tmp_path / "kept.diffedit"
    choose_file(monkeypatch, project)
    answers.queued = [Button.Save]
    window.files.new_session()  # File > New: closes the image after saving it
    assert project.is_file() and window.session is None
    window.files.open_project(project)
    assert window.session.mask(MaskName.OBJECT).sum() == 16
    assert window.windowTitle().startswith("kept.diffedit")


def test_a_cancelled_save_dialog_cancels_the_quit(window, image_paths, answers, monkeypatch):
    window.files.open_image(image_paths[0])
    paint(window)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: ("", ""))
    answers.queued = [Button.Save]
    assert not window.close()  # the user closed the Save dialog: nothing is lost
    assert window.isVisible() and window.session is not None
    answers.queued = [Button.Discard]
    assert window.close()


def test_recent_files_and_drops_ask_too(window, image_paths, answers):
    first, second = image_paths
    window.files.open_image(second)
    window.files.open_image(first)
    paint(window)
    window.recent_menu.aboutToShow.emit()
    answers.queued = [Button.Cancel]
    action = next(a for a in window.recent_menu.actions() if a.data() == str(second))
    action.trigger()
    assert window.files.image_path == first and len(answers) == 1
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(second))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    answers.queued = [Button.Discard]
    window.dropEvent(drop)
    assert window.files.image_path == second and len(answers) == 2


def test_a_recovered_session_is_untitled_and_save_asks_where(
    window, image_paths, answers, monkeypatch, tmp_path
):
    window.files.open_image(image_paths[0])
    paint(window)
    window.files.autosave()
    window.files.autosaver.wait()
    autosave = window.files.autosave_path
    assert autosave.name == AUTOSAVE_NAME and autosave.parent == tmp_path / "data"
    window.set_session(None)
    answers.queued = [Button.Yes]
    assert window.files.offer_recovery()
    assert window.windowTitle().startswith("first.png (recovered)") and window.isWindowModified()
    assert window.files.project_path is None
    chosen = tmp_path / "mine.diffedit"
    asked = []
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a: asked.append(a) or (str(chosen), "")
    )
    assert window.files.save_project()  # Ctrl+S
    assert asked and chosen.is_file() and window.files.project_path == chosen
    assert window.windowTitle().startswith("mine.diffedit") and not window.isWindowModified()
    assert window.close()  # clean: no question, and the user's file stays
    assert chosen.is_file() and not autosave.exists()


def test_the_autosave_is_never_the_users_file(window, image_paths, answers, messages_shown):
    window.files.open_image(image_paths[0])
    paint(window)
    assert not window.files.save_project_as(window.files.autosave_path)
    assert messages_shown and "autosave" in messages_shown[-1][1]
    assert window.files.project_path is None and window.isWindowModified()


def test_the_demo_keeps_its_own_autosave_slot_and_offers_it_back(qtbot, tmp_path, answers):
    data = tmp_path / "data"
    data.mkdir()
    real = data / AUTOSAVE_NAME
    real.write_bytes(b"the real session")
    demo = create_window(tmp_path / "settings.json", data, demo_model(), demo=True)
    qtbot.addWidget(demo)
    prepare_demo(demo)
    assert not demo.isWindowModified()  # the demo's set-up is not unsaved work
    demo.files.autosave()
    demo.files.autosaver.wait()
    autosave = demo.files.autosave_path
    assert autosave.name == DEMO_AUTOSAVE_NAME and autosave.is_file()
    assert real.read_bytes() == b"the real session"
    demo.worker.shutdown()
    again = create_window(tmp_path / "settings.json", data, demo_model(), demo=True)
    qtbot.addWidget(again)
    answers.queued = [Button.Yes]
    assert again.files.offer_recovery() and again.session.mask(MaskName.OBJECT).any()
    again.worker.shutdown()


def test_preference_problems_are_said_once(qtbot, tmp_path, tiny_model_dir, messages_shown):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    window = create_window(path, tmp_path / "data", ModelSpec(str(tiny_model_dir)))
    qtbot.addWidget(window)
    window.show_settings_problems()
    window.show_settings_problems()
    assert len(messages_shown) == 1 and "defaults" in messages_shown[0][1]
    window.worker.shutdown()
