"""After any dialog the window opens closes, the window is active again and the canvas has
the keys: tool keys, Escape and Ctrl+Q work at once. Without a window manager nobody else
gives the focus back (issue 24: after Export, Escape and Ctrl+Q did nothing)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox


def a_dialog_that_takes_the_focus(qtbot, answer):
    """A stand-in for a static dialog: a real dialog of the window is shown and active,
    then closes, as the file chooser does when the user picks a file."""

    def show(parent, *args, **kwargs):
        dialog = QDialog(parent)
        dialog.show()
        dialog.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
        dialog.close()
        dialog.deleteLater()
        return answer

    return show


def test_keys_reach_the_canvas_after_the_export_dialog(demo, qtbot, tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    show = a_dialog_that_takes_the_focus(qtbot, (str(out), ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", show)
    QTest.keyClick(demo, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Export
    assert out.exists()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is demo)
    assert QApplication.focusWidget() is demo.canvas
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_E)  # Eraser
    assert demo.tool_actions["eraser"].isChecked()


def test_quit_works_after_a_question(demo, qtbot, monkeypatch):
    demo.clear_mask()  # unsaved work: quitting asks first; the first answer is Cancel
    cancel = a_dialog_that_takes_the_focus(qtbot, QMessageBox.StandardButton.Cancel)
    monkeypatch.setattr(QMessageBox, "question", cancel)
    QTest.keyClick(demo, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert demo.isVisible()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is demo)
    discard = a_dialog_that_takes_the_focus(qtbot, QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "question", discard)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not demo.isVisible()
