"""The Preferences dialog is built from the schema and writes validated values back."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit

from diffeditor_app.runtime.settings import SCHEMA, SettingsStore
from diffeditor_app.ui.preferences import PreferencesDialog
from tests.ui.conftest import field


def test_every_dialog_setting_has_a_field(qtbot, tmp_path):
    dialog = PreferencesDialog(SettingsStore(tmp_path / "settings.json"))
    qtbot.addWidget(dialog)
    shown = {f.setting.key for f in dialog.fields}
    assert shown == {s.key for s in SCHEMA if s.in_dialog}


def test_accept_writes_values_and_rejects_bad_ones(qtbot, tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    dialog = PreferencesDialog(store)
    qtbot.addWidget(dialog)
    precision = field(dialog, "precision").widget
    assert isinstance(precision, QComboBox)
    precision.setCurrentText("fp32")
    resolution = field(dialog, "default_resolution").widget
    assert isinstance(resolution, QLineEdit)
    resolution.setText("not a number")
    dialog.accept()
    assert not dialog.error.isHidden() and "default_resolution" in dialog.error.text()
    assert store.get("precision") == "auto"
    resolution.setText("512")
    dialog.accept()
    assert store.get("precision") == "fp32" and store.get("default_resolution") == 512
    assert SettingsStore(tmp_path / "settings.json").get("precision") == "fp32"


def test_gpu_memory_presets_are_offered_and_reach_the_model_spec(qtbot, tmp_path):
    from PySide6.QtWidgets import QCheckBox

    store = SettingsStore(tmp_path / "settings.json")
    dialog = PreferencesDialog(store)
    qtbot.addWidget(dialog)
    preset = field(dialog, "vram_preset").widget
    assert isinstance(preset, QComboBox)
    offered = [preset.itemText(i) for i in range(preset.count())]
    assert offered == ["auto", "high", "medium", "low", "cpu-offload"]
    assert preset.currentText() == "auto"
    compile_unet = field(dialog, "compile_unet").widget
    assert isinstance(compile_unet, QCheckBox) and not compile_unet.isChecked()
    preset.setCurrentText("low")
    dialog.accept()
    assert store.model_spec().vram_preset == "low" and not store.model_spec().compile_unet


def test_the_device_is_a_list_of_what_torch_finds(qtbot, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    store = SettingsStore(tmp_path / "settings.json")
    store.set("device", "cuda:7")  # chosen on another machine: kept, and shown
    dialog = PreferencesDialog(store)
    qtbot.addWidget(dialog)
    device = field(dialog, "device").widget
    assert isinstance(device, QComboBox)
    items = [device.itemText(i) for i in range(device.count())]
    assert items == ["auto", "cuda:0", "cuda:1", "cpu", "cuda:7"]
    assert device.currentText() == "cuda:7"
    device.setCurrentText("cuda:1")
    dialog.accept()
    assert store.get("device") == "cuda:1"


def test_an_unwritable_settings_file_keeps_the_dialog_open_with_the_reason(
    qtbot, tmp_path, monkeypatch, break_file_writes
):
    store = SettingsStore(tmp_path / "settings.json")
    store.set("device", "cpu")
    dialog = PreferencesDialog(store)
    qtbot.addWidget(dialog)
    field(dialog, "precision").widget.setCurrentText("fp32")

    break_file_writes()
    dialog.show()
    dialog.accept()
    assert dialog.isVisible() and dialog.result() != dialog.DialogCode.Accepted
    assert "Cannot save the preferences" in dialog.error.text()
    assert "Permission denied" in dialog.error.text()
    assert store.get("precision") == "auto"
    dialog.error.clear()
    dialog.restore_defaults()  # the same for Restore Defaults: it says why, and stays
    assert dialog.isVisible() and "Permission denied" in dialog.error.text()
    assert store.get("device") == "cpu"
    monkeypatch.undo()
    dialog.accept()
    assert store.get("precision") == "fp32" and not dialog.isVisible()
