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


def test_offline_dialog_shows_three_missing_rows_without_downloads(qtbot, settings):
    dialog = ModelSetupDialog(settings)
    qtbot.addWidget(dialog)
    assert len(dialog.rows) == 3
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
    dialog.rows[0].choose.click()
    assert warnings and "not a Stable Diffusion" in warnings[0]
    assert settings.get("model_source") != str(tmp_path)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tiny_model_dir))
    dialog.rows[0].choose.click()
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
