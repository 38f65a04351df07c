"""Brush size, hardness and mask opacity: preferences, not undo steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PIL import Image
from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel

from diffeditor_app.runtime.settings import SettingsStore, brush_for, remember_brush
from diffeditor_app.ui.canvas import DEFAULT_SIDE, Canvas


class ToolOptions(QObject):
    """The canvases follow the settings, and `[` / `]` on a canvas write back to them. The
    brush size is remembered per image size class (a 64 px scene and a photo differ), so
    it is shown again whenever the image changes (`show`)."""

    def __init__(
        self,
        settings: SettingsStore,
        canvases: Sequence[Canvas],
        label: QLabel,
        image: Callable[[], Image.Image | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings, self.canvases, self.label = settings, tuple(canvases), label
        self.image = image  # the open image, if any
        self._showing = False
        self.show()
        settings.changed.connect(self.show)
        for canvas in self.canvases:
            canvas.brush_size_changed.connect(self._remember)

    @Slot()
    @Slot(str)
    def show(self, key: str = "") -> None:
        self._showing = True
        size = brush_for(self.settings.get("brush_sizes"), *self.image_size())
        for canvas in self.canvases:
            canvas.brush_size = size
            canvas.brush_hardness = self.settings.get("brush_hardness")
            canvas.mask_opacity = self.settings.get("mask_opacity")
        self._showing = False
        self.label.setText(f"Brush {self.canvases[0].brush_size} px")

    def image_size(self) -> tuple[int, int]:
        image = self.image()
        return (image.width, image.height) if image else (DEFAULT_SIDE, DEFAULT_SIDE)

    @Slot(int)
    def _remember(self, size: int) -> None:
        if not self._showing:
            entries = remember_brush(self.settings.get("brush_sizes"), *self.image_size(), size)
            self.settings.remember("brush_sizes", entries)
