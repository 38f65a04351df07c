"""The window sends its edits to the server chosen in the preferences, and says where."""

from __future__ import annotations

from diffeditor_app.engine.models.model import ModelProfile
from diffeditor_app.server.api import task_defaults
from diffeditor_app.server.client import ServerAddress
from tests.ui.conftest import open_moved_object

SERVER_PROFILE = ModelProfile(task_overrides={"move": {"guidance_strength": 3.5}})
INFO = {"task_defaults": task_defaults(SERVER_PROFILE), "resolution_range": [384, 1024]}


def test_edits_go_to_the_server_of_the_preferences(tiny_window, tmp_path, monkeypatch, qtbot):
    window = tiny_window
    open_moved_object(window, tmp_path)
    sent = []
    monkeypatch.setattr(window.worker, "submit", lambda *args: sent.append(args))
    window.edits.run()
    assert sent[-1][3] is None  # this computer
    asked = []  # the server's /v1/info, answered here: no network in tests
    monkeypatch.setattr(window.defaults, "_ask", lambda address: asked.append(address) or INFO)
    window.settings.set("server_url", "http://gpu-box:8765")
    window.settings.set("server_token", "t0ken")
    window.settings.set("run_on", "server")
    window.show_model()
    assert window.model_label.text() == "server · http://gpu-box:8765"
    guidance = window.edit_panel.guidance
    qtbot.waitUntil(lambda: guidance.placeholderText() == "3.5")  # the server's, not the toy's
    assert asked == [ServerAddress("http://gpu-box:8765", "t0ken")]
    window.edits.run()
    assert sent[-1][3] == ServerAddress("http://gpu-box:8765", "t0ken")


def test_a_server_without_url_is_a_message_not_an_edit(
    tiny_window, tmp_path, monkeypatch, messages_shown
):
    window = tiny_window
    open_moved_object(window, tmp_path)
    sent = []
    monkeypatch.setattr(window.worker, "submit", lambda *args: sent.append(args))
    window.settings.set("run_on", "server")
    window.edits.run()
    assert sent == []
    assert messages_shown == [
        ("Cannot run the edit", "Set the server's URL in Preferences > Performance.")
    ]
