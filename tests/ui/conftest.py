"""GUI test fixtures."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from diffeditor_app.document import commands
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import MaskName, MoveBox
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.ui.app import create_window, demo_model, prepare_demo
from diffeditor_app.ui.canvas import Canvas


@pytest.fixture(autouse=True)
def answers(monkeypatch):
    """Questions are answered, never shown: a modal box would block an offscreen test
    forever. Unsaved changes are discarded unless a test queues other answers; every
    question asked is recorded as (title, text)."""

    class Answers(list):
        def __init__(self) -> None:
            super().__init__()
            self.queued: list[QMessageBox.StandardButton] = []

        def __call__(self, parent, title, text, *args):
            self.append((title, text))
            if self.queued:
                return self.queued.pop(0)
            return QMessageBox.StandardButton.Discard

    asked = Answers()
    monkeypatch.setattr(QMessageBox, "question", asked)
    return asked


@pytest.fixture
def messages_shown(monkeypatch):
    """Warnings recorded as (title, text) instead of shown."""
    shown = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, text, *a: shown.append((title, text))
    )
    return shown


@pytest.fixture
def tiny_window(qtbot, tmp_path, tiny_model_dir):
    """The main window on the tiny random model, shown, with its own settings and data."""
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    window = create_window(tmp_path / "config" / "settings.json", tmp_path / "data", spec)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.worker.shutdown()


@pytest.fixture
def demo(qtbot, tmp_path):
    """The main window on the toy model with the demo's scene set up, shown and active."""
    window = create_window(tmp_path / "settings.json", tmp_path / "data", demo_model())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitActive(window)
    prepare_demo(window)
    yield window
    window.worker.shutdown()


@pytest.fixture
def square_window(qtbot, tmp_path, tiny_window):
    """`tiny_window`, active, with the 96 x 64 square scene open, its object painted and the
    move box set 8 px right."""
    window = tiny_window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    image, mask = square_scene(96, 64)
    path = tmp_path / "scene.png"
    Image.fromarray(image.rgb).save(path)
    window.files.open_image(path)
    commands.stroke(window.session, MaskName.OBJECT, (0, 0, 96, 64), mask, erase=False)
    commands.set_box(window.session, MoveBox(dx=8))
    return window


@pytest.fixture
def session(qapp):
    """A session on the 96 x 64 square scene (the red square: rows 20..35, columns 24..39)."""
    image, _ = square_scene(96, 64)
    return EditSession.open(image)


@pytest.fixture
def canvas(qtbot, session):
    """A shown 400 x 300 canvas on `session`, fitted."""
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_session(session)
    canvas.fit()
    return canvas
