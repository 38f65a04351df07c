"""Every QAction of every menu and toolbar, as a user reaches it: once through
`QAction.trigger()` (a click on the entry) and once through its shortcut typed on the
window. File dialogs and questions are answered by patched static methods, modal dialogs
close at once, and any exception raised inside a slot fails the test (issue 24: Export and
Save-as received Qt's `checked=False` as their path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMenu, QMessageBox, QToolBar

from diffeditor_app.document.project import save_project
from diffeditor_app.document.state import SessionState
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.models.testing import square_scene

QUIT = "&Quit"  # closes the window: triggered last, on its own


class Chooser:
    """Answers the file dialogs: an image or a project to open, a file name to save to,
    picked by the dialog's filter; every save is recorded."""

    def __init__(self, folder: Path, image: Path, project: Path) -> None:
        self.folder, self.image, self.project = folder, image, project
        self.saved: list[Path] = []

    def open_file(self, parent, caption="", directory="", filters="", *args):
        return str(self.project if "diffedit" in filters else self.image), ""

    def save_file(self, parent, caption="", directory="", filters="", *args):
        suffix = ".diffedit" if "diffedit" in filters else ".png"
        path = self.folder / f"saved-{len(self.saved)}{suffix}"
        self.saved.append(path)
        return str(path), ""

    def folder_choice(self, *args, **kwargs) -> str:
        return str(self.folder)


@pytest.fixture
def chooser(tmp_path, monkeypatch, messages_shown) -> Chooser:
    image, _ = square_scene(64, 48)
    image_path = tmp_path / "scene.png"
    Image.fromarray(image.rgb).save(image_path)
    project_path = tmp_path / "project.diffedit"
    save_project(SessionState.for_image(SourceImage(image.rgb)), project_path)
    answers = tmp_path / "answers"
    answers.mkdir()
    chooser = Chooser(answers, image_path, project_path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", chooser.open_file)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", chooser.save_file)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", chooser.folder_choice)
    for name in ("information", "critical"):
        monkeypatch.setattr(QMessageBox, name, lambda *a: QMessageBox.StandardButton.Ok)
    monkeypatch.setattr(QDialog, "exec", lambda self: QDialog.DialogCode.Rejected)
    return chooser


@pytest.fixture
def window(tiny_window, chooser, qtbot):
    tiny_window.activateWindow()
    qtbot.waitUntil(tiny_window.isActiveWindow)
    return tiny_window


def menu_actions(menu: QMenu) -> list[QAction]:
    """A menu's entries, its submenus' entries included (the recent files filled first)."""
    menu.aboutToShow.emit()
    found = []
    for action in menu.actions():
        if action.menu() is not None:
            found += menu_actions(action.menu())
        elif not action.isSeparator():
            found.append(action)
    return found


def every_action(window) -> list[QAction]:
    """Every entry of the menu bar and every button of every toolbar, each once."""
    found = []
    for action in window.menuBar().actions():
        found += menu_actions(action.menu())
    for bar in window.findChildren(QToolBar):
        found += [a for a in bar.actions() if not a.isSeparator()]
    unique = list(dict.fromkeys(found))
    return [a for a in unique if a.text() != QUIT]


def with_image(window, chooser: Chooser) -> None:
    """Back to an open image when an entry (New, Open project) left another state."""
    if window.session is None or window.files.image_path != chooser.image:
        window.files.open_image(chooser.image)


def test_every_menu_and_toolbar_action_runs_when_triggered(window, chooser, qtbot):
    actions = every_action(window)
    assert len(actions) > 25  # the File, Edit, Select, Settings and View menus, the toolbars
    failures = []
    for action in actions:
        with_image(window, chooser)
        with qtbot.capture_exceptions() as raised:
            action.trigger()
            QApplication.processEvents()
        failures += [f"{action.text()}: {error!r}" for _, error, _ in raised]
    assert failures == []


def test_every_shortcut_reaches_its_action_without_an_error(window, chooser, qtbot):
    keyed = [a for a in every_action(window) if not a.shortcut().isEmpty()]
    assert len(keyed) > 20
    failures = []
    for action in keyed:
        with_image(window, chooser)
        window.canvas.setFocus()
        with (
            qtbot.capture_exceptions() as raised,
            qtbot.waitSignal(action.triggered, timeout=1000, raising=False) as fired,
        ):
            QTest.keySequence(window, action.shortcut())
        QApplication.processEvents()
        failures += [f"{action.text()}: {error!r}" for _, error, _ in raised]
        if not fired.signal_triggered:
            failures.append(f"{action.text()}: {action.shortcut().toString()} did nothing")
    assert failures == []


def test_export_and_save_as_from_the_menu_write_their_files(window, chooser, qtbot):
    with_image(window, chooser)
    by_text = {a.text(): a for a in every_action(window)}
    with qtbot.capture_exceptions() as raised:
        by_text["&Export image as…"].trigger()
        by_text["Save project &as…"].trigger()
    assert raised == []
    exported, project = chooser.saved
    assert Image.open(exported).size == (64, 48)
    assert project.suffix == ".diffedit" and project.stat().st_size > 0
    assert window.files.project_path == project
    QTest.keySequence(window, QKeySequence("Ctrl+E"))
    assert chooser.saved[-1].is_file() and chooser.saved[-1].suffix == ".png"


def test_quit_from_the_menu_and_its_key_closes_the_window(window, chooser, qtbot):
    with_image(window, chooser)
    with qtbot.capture_exceptions() as raised:
        QTest.keySequence(window, QKeySequence("Ctrl+Q"))
    assert raised == []
    qtbot.waitUntil(lambda: not window.isVisible())
