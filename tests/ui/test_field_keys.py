"""Spin boxes and text fields give the keys back to the canvas on Return or Escape and
when the pointer comes back to the canvas; a click that only takes the keys back paints
nothing (issue 24)."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QEnterEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from diffeditor_app.document.state import MaskName


@pytest.fixture
def window(qtbot, tmp_path, tiny_window):
    window = tiny_window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    path = tmp_path / "scene.png"
    Image.new("RGB", (96, 64), (120, 140, 90)).save(path)
    window.files.open_image(path)
    window.set_tool("brush")
    window.edit_panel.advanced.setChecked(True)
    return window


@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Escape])
def test_a_spin_box_hands_the_keys_back_on_return_or_escape(window, qtbot, key):
    steps = window.edit_panel.steps
    steps.setFocus()
    qtbot.waitUntil(steps.hasFocus)
    steps.selectAll()
    QTest.keyClicks(QApplication.focusWidget(), "12")
    QTest.keyClick(QApplication.focusWidget(), key)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    assert window.session.state.options.steps == 12
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_H)  # a tool key, not text
    assert window.canvas.tool == "pan" and steps.value() == 12


def test_the_pointer_coming_back_to_the_canvas_brings_the_keys(window, qtbot):
    prompt = window.edit_panel.prompt
    prompt.setFocus()
    qtbot.waitUntil(prompt.hasFocus)
    QTest.keyClicks(prompt, "a field")
    centre = QPointF(window.canvas.rect().center())
    QApplication.sendEvent(window.canvas, QEnterEvent(centre, centre, centre))
    assert QApplication.focusWidget() is window.canvas
    assert window.session.state.prompt == "a field"  # written when the field let go


def test_a_click_that_takes_the_keys_back_paints_nothing(window, qtbot):
    window.edit_panel.guidance.setFocus()
    qtbot.waitUntil(window.edit_panel.guidance.hasFocus)
    viewport = window.canvas.viewport()
    centre = viewport.rect().center()
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=centre)
    assert QApplication.focusWidget() is window.canvas
    assert not window.session.mask(MaskName.OBJECT).any()
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=centre)  # now it paints
    assert window.session.mask(MaskName.OBJECT).any()
