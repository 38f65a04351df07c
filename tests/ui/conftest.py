"""GUI test fixtures, and the helpers several GUI test files share (`from tests.ui.conftest
import ...`): pointer gestures on the canvas, a scene saved to disk, a preferences field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from diffeditor_app.document import commands
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import MaskName, MoveBox
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.ui.app import create_window, demo_model, prepare_demo
from diffeditor_app.ui.canvas import Canvas
from diffeditor_app.ui.preferences import Field, PreferencesDialog

LEFT = Qt.MouseButton.LeftButton
RIGHT = Qt.MouseButton.RightButton
MIDDLE = Qt.MouseButton.MiddleButton
NONE = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier
OBJECT_BBOX = (24, 20, 40, 36)  # square_scene(96, 64)'s red square: rows 20..35, cols 24..39


def at(canvas: Canvas, x: float, y: float) -> QPoint:
    """The viewport point over image point (x, y)."""
    return canvas.map_from_image(x, y).toPoint()


def pixel(canvas: Canvas, x: float, y: float) -> QColor:
    """The colour the canvas shows over image point (x, y)."""
    return canvas.grab().toImage().pixelColor(at(canvas, x, y))


def send_move(canvas: Canvas, pos: QPoint, buttons=LEFT, modifiers=NONE) -> None:
    """A raw move over the canvas with the button held (qtbot.mouseMove may not carry it)."""
    send_move_to(canvas.viewport(), pos, buttons, modifiers)


def send_move_to(widget, pos: QPoint, buttons=LEFT, modifiers=NONE) -> None:
    """A raw move over any widget with the button held."""
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        Qt.MouseButton.NoButton,
        buttons,
        modifiers,
    )
    QApplication.sendEvent(widget, event)


def drag(qtbot, canvas: Canvas, points, button=LEFT, modifiers=NONE, release=True) -> None:
    """Press at the first image point, move through the others, release at the last."""
    views = [at(canvas, x, y) for x, y in points]
    qtbot.mousePress(canvas.viewport(), button, modifiers, views[0])
    for view in views[1:]:
        send_move(canvas, view, button, modifiers)
    if release:
        qtbot.mouseRelease(canvas.viewport(), button, modifiers, views[-1])


def click(qtbot, canvas: Canvas, x: float, y: float, modifiers=NONE, button=LEFT) -> None:
    qtbot.mouseClick(canvas.viewport(), button, modifiers, at(canvas, x, y))


def paint_rect(session: EditSession, rows: slice, cols: slice) -> None:
    """One brush stroke on the object mask covering image rows x cols."""
    mask = np.zeros((session.image.height, session.image.width), dtype=bool)
    mask[rows, cols] = True
    commands.stroke(session, MaskName.OBJECT, (0, 0, mask.shape[1], mask.shape[0]), mask, False)


def saved_scene(
    folder: Path, width: int = 96, height: int = 64, name: str = "scene.png"
) -> tuple[Path, np.ndarray]:
    """square_scene(width, height) written to `folder / name`: its path and object mask."""
    image, mask = square_scene(width, height)
    path = folder / name
    Image.fromarray(image.rgb).save(path)
    return path, mask


def open_moved_object(window, folder: Path) -> None:
    """saved_scene() opened in `window` as a user would, its object painted and the move
    box set: a move ready to run."""
    path, mask = saved_scene(folder)
    window.files.open_image(path)
    commands.stroke(
        window.session, MaskName.OBJECT, (0, 0, mask.shape[1], mask.shape[0]), mask, False
    )
    commands.set_box(window.session, MoveBox(dx=16, dy=4))


def field(dialog: PreferencesDialog, key: str) -> Field:
    """The dialog's field of one setting."""
    return next(f for f in dialog.fields if f.setting.key == key)


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
    path, mask = saved_scene(tmp_path)
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
