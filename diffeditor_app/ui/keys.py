"""Where the keys go in the main window, whatever widget or dialog had them last."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QDialog, QMainWindow

from diffeditor_app.ui.canvas import TEXT_INPUTS

DONE_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)  # leave a field


class KeyRouter(QObject):
    """An application-wide event filter for one main window (which has `canvas` and
    `focus_canvas`): Return or Escape in a field gives the keys back to the canvas,
    backslash held anywhere but in a text field compares with the original, and after
    any of the window's dialogs closes the window is active again with the keys on the
    canvas."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        QApplication.instance().installEventFilter(self)

    def stop(self) -> None:
        QApplication.instance().removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.KeyPress and event.key() in DONE_KEYS and self._in_field(watched):
            QTimer.singleShot(0, self.window.focus_canvas)  # after the field took its value
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            if event.key() == Qt.Key.Key_Backslash and self._compare_key_applies():
                if not event.isAutoRepeat():
                    self.window.canvas.show_original(kind == QEvent.Type.KeyPress)
                return True
        elif kind == QEvent.Type.WindowDeactivate and watched is self.window:
            self.window.canvas.show_original(False)
        elif kind == QEvent.Type.Hide and self._own_dialog(watched):
            QTimer.singleShot(0, self.take_keys_back)
        return False

    @Slot()
    def take_keys_back(self) -> None:
        """After a dialog closes, the window is active again and the canvas has the keys.
        Without a window manager nobody else does it: X gives the focus to the root
        window, and every key and shortcut (Escape, Ctrl+Q) would be lost."""
        window = self.window
        if window.isVisible() and QApplication.activeModalWidget() is None:
            window.raise_()
            window.activateWindow()
            window.focus_canvas()

    def _own_dialog(self, watched: QObject) -> bool:
        parent = watched.parentWidget() if isinstance(watched, QDialog) else None
        return parent is not None and parent.window() is self.window

    def _in_field(self, watched: QObject) -> bool:
        """A spin box (or its inner line) or a text field of this window."""
        field = watched.parent() if isinstance(watched.parent(), QAbstractSpinBox) else watched
        return isinstance(field, TEXT_INPUTS) and field.window() is self.window

    def _compare_key_applies(self) -> bool:
        if not self.window.isActiveWindow():
            return False
        focus = QApplication.focusWidget()
        return not isinstance(focus, TEXT_INPUTS) or focus.window() is not self.window
