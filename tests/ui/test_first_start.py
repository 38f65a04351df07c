"""First start: "Try the toy model" opens the demo scene; Save proposes the user's own
folder, never the app's; the unsaved-work question names the file it will write."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from diffeditor_app.document import commands
from diffeditor_app.document.state import MaskName
from diffeditor_app.ui.app import DEMO_IMAGE, create_window, demo_model, prepare_demo
from diffeditor_app.ui.file_controller import APP_FOLDER
from diffeditor_app.ui.model_setup import ModelSetupDialog


def test_try_the_toy_model_opens_the_demo_scene(qtbot, tmp_path, monkeypatch):
    window = create_window(tmp_path / "settings.json", tmp_path / "data")
    qtbot.addWidget(window)
    window.show()
    monkeypatch.setattr(ModelSetupDialog, "exec", lambda dialog: dialog.toy.click())
    settings_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Settings")
    setup = next(a for a in settings_menu.actions() if a.text() == "&Model setup…")
    setup.trigger()
    assert window.session is not None and window.files.image_path == DEMO_IMAGE
    assert window.session.mask(MaskName.OBJECT).any()  # set up for every task
    window.worker.shutdown()


def test_save_starts_in_the_users_folder_and_the_question_names_the_file(
    qtbot, tmp_path, monkeypatch, answers
):
    window = create_window(tmp_path / "settings.json", tmp_path / "data", demo_model(), demo=True)
    qtbot.addWidget(window)
    prepare_demo(window)
    proposed = []
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda parent, caption, start, *a: proposed.append(start) or ("", ""),
    )
    window.files.save_project_as()
    window.files.export_image()
    for start in proposed:
        assert not Path(start).resolve().is_relative_to(APP_FOLDER), start
    assert Path(proposed[0]).name == "toy_scene.diffedit"
    commands.clear_mask(window.session, MaskName.OBJECT)  # unsaved work
    answers.queued = [QMessageBox.StandardButton.Cancel]
    assert not window.close()
    assert "toy_scene.png" in answers[-1][1] and "toy_scene.diffedit" in answers[-1][1]
    window.worker.shutdown()
