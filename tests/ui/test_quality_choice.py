"""The Quality choice: picked in the Edit panel as a user picks it, defaulted by the
Preferences, carried by the request and kept in the session's options."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from diffeditor_app.engine.settings import Quality
from diffeditor_app.runtime.settings import QUALITY_LABELS, setting
from tests.ui.conftest import open_moved_object


@pytest.fixture
def window(tiny_window, messages_shown, tmp_path):
    """The tiny window with a square scene open, its object painted and the box moved."""
    open_moved_object(tiny_window, tmp_path)
    return tiny_window


def sent_request(window, monkeypatch):
    sent = []
    monkeypatch.setattr(window.worker, "submit", lambda request, *_: sent.append(request))
    window.edits.run()
    return sent[0]


def test_full_is_the_first_start_default():
    assert setting("edit_quality").default == Quality.FULL.value


def test_choosing_fast_in_the_panel_reaches_the_request(window, qtbot, monkeypatch):
    box = window.edit_panel.quality
    assert box.currentText() == QUALITY_LABELS[0]
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Down)  # the next choice, as the arrow key picks it
    assert box.currentText() == QUALITY_LABELS[1]
    assert window.session.state.options.quality is Quality.FAST
    assert not window.edit_panel.advanced.isChecked()  # the choice is not an Advanced change
    assert sent_request(window, monkeypatch).quality is Quality.FAST
    window.edit_panel.reset.click()  # Reset to defaults leaves the quality as chosen
    assert window.session.state.options.quality is Quality.FAST


def test_the_preference_is_the_default_until_the_panel_picks_another(window, monkeypatch):
    window.settings.set("edit_quality", "fast")
    box = window.edit_panel.quality
    assert box.currentText() == QUALITY_LABELS[1]
    assert window.session.state.options.quality is None
    assert sent_request(window, monkeypatch).quality is Quality.FAST
    box.setCurrentIndex(0)  # the user picks full against the preference
    assert window.session.state.options.quality is Quality.FULL
    window.settings.set("edit_quality", "full")
    assert window.session.state.options.quality is Quality.FULL
