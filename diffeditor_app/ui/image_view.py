"""A QGraphicsView whose scene coordinates are image pixels: zoom about a point, fit the
image, pan it with margins (the scroll bars are hidden but do the scrolling), and repaint
parts of it. The canvas (canvas.py) builds the editor on it."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView, QWidget

BACKDROP = QColor(42, 42, 42)
MIN_ZOOM, MAX_ZOOM = 0.01, 64.0
FIT_MARGIN_PX = 8
PAN_KEEP_PX = 64  # panning stops with this much of the image still on screen
MIN_VIEW_PX = 64
IMAGE_REPAINT_PAD_PX = 2


class ImageView(QGraphicsView):
    """The view transform of an image; a subclass says which image (`image_shape`)."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setBackgroundBrush(BACKDROP)
        self.setMinimumSize(MIN_VIEW_PX, MIN_VIEW_PX)
        self._fit_mode = True
        self._shape: tuple[int, int] | None = None  # the image shape last fitted

    def image_shape(self) -> tuple[int, int] | None:
        """(height, width) of the image shown; None: no image."""
        return None

    # -- zoom and pan -----------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def map_to_image(self, point: QPointF) -> QPointF:
        """Viewport coordinates -> continuous image coordinates."""
        return self.viewportTransform().inverted()[0].map(QPointF(point))

    def map_from_image(self, x: float, y: float) -> QPointF:
        """Continuous image coordinates -> viewport coordinates."""
        return self.viewportTransform().map(QPointF(x, y))

    def _viewport_centre(self) -> QPointF:
        size = self.viewport().size()
        return QPointF(size.width() / 2, size.height() / 2)

    def fit(self) -> None:
        """Zoom so the whole image shows, centred; stays fitted on resize until the user
        zooms."""
        self._fit_mode = True
        shape = self.image_shape()
        self._shape = shape
        if shape is None:
            self._set_zoom(1.0, None)
            self._update_scene_rect()
            return
        height, width = shape
        size = self.viewport().size()
        scale = min(
            max(size.width() - 2 * FIT_MARGIN_PX, 1) / width,
            max(size.height() - 2 * FIT_MARGIN_PX, 1) / height,
        )
        self._set_zoom(scale, None, centre=QPointF(width / 2, height / 2))

    def zoom_to(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to `scale` keeping the image point under `anchor` (viewport coordinates;
        default the viewport's centre) in place."""
        self._fit_mode = False
        self._set_zoom(scale, anchor)

    def zoom_100(self) -> None:
        self.zoom_to(1.0)

    def _set_zoom(self, scale: float, anchor: QPointF | None, centre: QPointF | None = None):
        old = self.zoom
        scale = float(min(max(scale, MIN_ZOOM), MAX_ZOOM))
        view_anchor = QPointF(anchor) if anchor is not None else self._viewport_centre()
        image_anchor = centre if centre is not None else self.map_to_image(view_anchor)
        if centre is not None:
            view_anchor = self._viewport_centre()
        self.setTransform(QTransform.fromScale(scale, scale))
        self._update_scene_rect()
        self._place(image_anchor, view_anchor)
        if not math.isclose(old, scale, rel_tol=1e-9):
            self.zoom_changed.emit(scale)
        self.refresh()

    def _update_scene_rect(self) -> None:
        """The image plus margins wide enough to pan it until PAN_KEEP_PX remain on
        screen; the scroll bars are hidden but do the scrolling."""
        shape = self.image_shape()
        height, width = shape if shape is not None else (1, 1)
        size, zoom = self.viewport().size(), self.zoom
        mx = max(size.width() - PAN_KEEP_PX, 0) / zoom
        my = max(size.height() - PAN_KEEP_PX, 0) / zoom
        self.setSceneRect(QRectF(-mx, -my, width + 2 * mx, height + 2 * my))

    def _place(self, image_point: QPointF, view_point: QPointF) -> None:
        """Scroll so `image_point` shows at `view_point`."""
        now = self.viewportTransform().map(image_point)
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(now.x() - view_point.x()))
        v.setValue(v.value() + round(now.y() - view_point.y()))

    def scroll_image(self, dx: float, dy: float) -> None:
        """Scroll the view by (dx, dy) image pixels."""
        zoom = self.zoom
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(dx * zoom))
        v.setValue(v.value() + round(dy * zoom))

    def refresh(self, *_args) -> None:
        self.viewport().update()

    def repaint_image_rect(self, rect: QRectF, pad_px: int = IMAGE_REPAINT_PAD_PX) -> None:
        """Repaint an image rectangle, padded by `pad_px` screen pixels."""
        view = self.viewportTransform().mapRect(rect).toAlignedRect()
        self.viewport().update(view.adjusted(-pad_px, -pad_px, pad_px, pad_px))

    def resizeEvent(self, event) -> None:
        old = event.oldSize()
        centre = None
        if old.isValid() and old.width() > 0:
            centre = self.map_to_image(QPointF(old.width() / 2, old.height() / 2))
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()
        else:
            self._update_scene_rect()
            if centre is not None:
                self._place(centre, self._viewport_centre())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._fit_mode:
            self.fit()
