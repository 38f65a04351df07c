"""Text that never ends mid-word: a label that elides at a word boundary and keeps the
whole sentence in its tooltip, and the window's status bar whose notes are such a label.

QStatusBar draws a message itself and cuts it at the bar's end ("…Set up Stable Di"); here
the message is a stretching label beside the permanent fields, elided like any other."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontMetrics, QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget

ELLIPSIS = "…"
TRIM = " ,.;:·—-"  # what may not stand before the ellipsis
MODEL_LABEL_WIDTH = 360  # pixels: the status bar's model field at most


def elide_words(text: str, metrics: QFontMetrics, width: int) -> str:
    """`text` if it fits in `width` pixels, else its longest run of whole words that fits
    with an ellipsis; a single word too long for the width is cut by Qt."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    words = text.split(" ")
    while len(words) > 1:
        words.pop()
        shorter = " ".join(words).rstrip(TRIM) + ELLIPSIS
        if metrics.horizontalAdvance(shorter) <= width:
            return shorter
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


class ElidedLabel(QLabel):
    """One line that shrinks with its place: `text()` is the whole text; when it does not
    fit, the label paints it up to a word boundary with an ellipsis, and its tooltip holds
    the whole text."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(1)
        self.setText(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_tooltip()

    def shown_text(self) -> str:
        """What is painted: the text, or its words that fit with an ellipsis."""
        return elide_words(self.text(), self.fontMetrics(), self.contentsRect().width())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_tooltip()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        self.style().drawItemText(
            painter,
            self.contentsRect(),
            int(self.alignment()),
            self.palette(),
            self.isEnabled(),
            self.shown_text(),
            self.foregroundRole(),
        )

    def _update_tooltip(self) -> None:
        self.setToolTip(self.text() if self.shown_text() != self.text() else "")


class StatusBar(QStatusBar):
    """The window's status bar: notes in an eliding label that stretches, permanent fields
    (brush, image size, zoom, model) on the right. `showMessage`, `currentMessage` and
    `clearMessage` keep QStatusBar's meaning, for the full text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = ElidedLabel()
        self.addWidget(self.note, 1)
        self._clear = QTimer(self, singleShot=True)
        self._clear.timeout.connect(self.clearMessage)
        self.brush_label, self.size_label, self.zoom_label = QLabel(), QLabel(), QLabel()
        self.model_label = ElidedLabel()  # a model's path can be long
        self.model_label.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self.model_label.setMaximumWidth(MODEL_LABEL_WIDTH)
        self.brush_label.setToolTip("Brush size: [ and ] change it")
        for label in (self.brush_label, self.size_label, self.zoom_label, self.model_label):
            self.addPermanentWidget(label)

    def showMessage(self, text: str, timeout: int = 0) -> None:
        self.note.setText(text)
        self._clear.stop()
        if timeout > 0:
            self._clear.start(timeout)

    def currentMessage(self) -> str:
        return self.note.text()

    def clearMessage(self) -> None:
        self._clear.stop()
        self.note.setText("")
