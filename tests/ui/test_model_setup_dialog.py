"""The model setup dialog: rows per source, offline rules, choosing local files."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from diffeditor_app.runtime.settings import SettingsStore
from diffeditor_app.ui.model_setup import ModelSetupDialog, needs_setup


@pytest.fixture
def settings(monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return SettingsStore(tmp_path / "settings.json")


def test_offline_dialog_shows_every_missing_row_without_downloads(qtbot, settings):
    dialog = ModelSetupDialog(settings)
    qtbot.addWidget(dialog)
    titles = [row.source.title for row in dialog.rows]
    assert len(titles) == 4 and titles[-1].startswith("Segment Anything")  # optional, last
    assert all(row.state.text() == "missing" for row in dialog.rows)
    assert not any(row.download.isEnabled() for row in dialog.rows)  # HF_HUB_OFFLINE=1
    assert "hf download" in dialog.instructions.toPlainText()
    dialog.grab().save("/tmp/model_setup.png")


def test_choosing_a_local_model_folder(qtbot, settings, monkeypatch, tiny_model_dir, tmp_path):
    assert needs_setup(settings)
    dialog = ModelSetupDialog(settings)
    qtbot.addWidget(dialog)
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path))
    dialog.rows[0].pick()  # Choose… > A model folder…
    assert warnings and "not a Stable Diffusion" in warnings[0]
    assert settings.get("model_source") != str(tmp_path)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tiny_model_dir))
    dialog.rows[0].pick()
    assert settings.get("model_source") == str(tiny_model_dir)
    assert dialog.rows[0].state.text().startswith("chosen:")
    assert not needs_setup(settings)


def test_the_toy_model_is_one_click_away(qtbot, settings):
    from diffeditor_app.ui.model_setup import TOY_MODEL

    assert needs_setup(settings)
    dialog = ModelSetupDialog(settings)
    qtbot.addWidget(dialog)
    dialog.toy.click()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert settings.get("model_source") == str(TOY_MODEL)
    assert not needs_setup(settings)
    assert (TOY_MODEL / "model_index.json").is_file()


def test_a_single_checkpoint_file_can_be_chosen(qtbot, settings, monkeypatch, tmp_path):
    dialog = ModelSetupDialog(settings)
    qtbot.addWidget(dialog)
    menu = dialog.rows[0].choose.menu()
    assert [a.text() for a in menu.actions()][1].startswith("A single .safetensors")
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    notes = tmp_path / "notes.txt"
    notes.write_text("not weights")
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"weights")
    for chosen in (notes, checkpoint):
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, c=chosen: (str(c), ""))
        menu.actions()[1].trigger()
    assert warnings == ["Choose a .safetensors or .ckpt file."]
    assert settings.get("model_source") == str(checkpoint)
    assert dialog.rows[0].state.text() == f"chosen: {checkpoint}"


def test_a_model_folders_own_image_prompt_is_recognised(qtbot, settings):
    dialog = ModelSetupDialog(settings)
    qtbot.addWidget(dialog)
    dialog.use_toy_model()  # models/toy has image_encoder/ and image_prompt/
    dialog.refresh()
    states = [row.state.text() for row in dialog.rows]
    assert states[1:3] == ["the model folder's own", "the model folder's own"]


def test_a_segment_anything_folder_can_be_chosen(qtbot, settings, monkeypatch, tmp_path):
    from diffeditor_app.engine.models.testing import write_tiny_sam

    dialog = ModelSetupDialog(settings)
    qtbot.addWidget(dialog)
    sam_row = dialog.rows[-1]
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path))
    sam_row.pick()
    assert warnings and "Segment Anything folder" in warnings[0]
    folder = write_tiny_sam(tmp_path / "sam")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(folder))
    sam_row.pick()
    assert settings.get("sam_model") == str(folder)
    assert sam_row.state.text().startswith("chosen:")


def test_an_unwritable_settings_file_is_said_and_the_dialog_stays(
    qtbot, settings, monkeypatch, break_file_writes
):
    dialog = ModelSetupDialog(settings)
    qtbot.addWidget(dialog)
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[1:]))

    break_file_writes()
    dialog.show()
    dialog.toy.click()
    assert dialog.isVisible() and dialog.result() != dialog.DialogCode.Accepted
    assert warnings and "Permission denied" in warnings[0][1]
    assert needs_setup(settings)


def test_the_dialog_carries_the_face_models_licence_note(qtbot, settings):
    dialog = ModelSetupDialog(settings)
    qtbot.addWidget(dialog)
    note = dialog.face_note.text()
    assert "iBUG 300-W" in note and "commercial" in note and ".[face]" in note
