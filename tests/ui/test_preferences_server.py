"""Preferences > Performance: "Run edits on: this computer / a server (URL, token)"."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QComboBox, QLineEdit

from diffeditor_app.engine import InvalidInput
from diffeditor_app.runtime.settings import RUN_LOCAL, RUN_SERVER, SettingsStore
from diffeditor_app.server.client import ServerAddress
from diffeditor_app.ui.preferences import PreferencesDialog
from tests.ui.conftest import field


def test_the_dialog_offers_a_server_with_url_and_hidden_token(qtbot, tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    dialog = PreferencesDialog(store)
    qtbot.addWidget(dialog)
    run_on = field(dialog, "run_on").widget
    assert isinstance(run_on, QComboBox)
    assert [run_on.itemText(i) for i in range(run_on.count())] == ["this computer", "a server"]
    token = field(dialog, "server_token").widget
    assert isinstance(token, QLineEdit) and token.echoMode() == QLineEdit.EchoMode.Password
    run_on.setCurrentIndex(1)
    field(dialog, "server_url").widget.setText("https://edit.example.org/")
    token.setText("s3cret")
    dialog.accept()
    assert store.get("run_on") == RUN_SERVER
    assert store.server() == ServerAddress("https://edit.example.org", "s3cret")


def test_the_store_says_where_edits_run(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    assert store.get("run_on") == RUN_LOCAL and store.server() is None
    store.set("run_on", RUN_SERVER)
    with pytest.raises(InvalidInput, match="server's URL"):
        store.server()
    store.set("server_url", "http://127.0.0.1:8765")
    with pytest.raises(InvalidInput, match="token"):
        store.server()
    store.set("server_token", "t")
    assert SettingsStore(tmp_path / "settings.json").server() == ServerAddress(
        "http://127.0.0.1:8765", "t"
    )
