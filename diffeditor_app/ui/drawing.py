"""How the canvas's overlays look: the view an overlay is drawn in, cosmetic pens, colours
and sizes, and the shapes shared by the layer painters (painters.py) and the tools'
own overlays (tools.py, layer_tools.py).

Images are drawn in image coordinates; every line, handle and label is drawn in viewport
coordinates with cosmetic pens, so widths and handle sizes stay constant on screen at any
zoom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF, QTransform

from diffeditor_app.engine.imaging.geometry import Placement
from diffeditor_app.engine.requests import Point

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in continuous image coordinates
HANDLE_PX = 9  # corner handle squares, screen pixels
POINT_RADIUS_PX = 6  # drag handle / target dots, screen pixels
HANDLE_COLOR = QColor(235, 50, 50)
TARGET_COLOR = QColor(40, 110, 255)
SELECTED_COLOR = QColor(255, 220, 40)
HALO = QColor(0, 0, 0, 150)
ARROW_HEAD_PX = 13.0  # the longest arrow head, screen pixels
DASH_PX = 4  # marching-ants look: 4 px white over the dark line


@dataclass(frozen=True)
class View:
    """What an overlay painter needs: image -> viewport transform and the zoom."""

    transform: QTransform
    zoom: float

    def at(self, x: float, y: float) -> QPointF:
        return self.transform.map(QPointF(x, y))

    def pixel_centre(self, point: Point) -> QPointF:
        """The centre of pixel `point` (a pixel index) on the viewport."""
        return self.at(point.x + 0.5, point.y + 0.5)

    def rect(self, rect: Rect) -> QRectF:
        """An image rectangle on the viewport."""
        return QRectF(self.at(rect[0], rect[1]), self.at(rect[2], rect[3])).normalized()


def cosmetic(
    color: QColor | Qt.GlobalColor, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine
) -> QPen:
    """A pen whose width is in screen pixels at any zoom."""
    pen = QPen(QColor(color), width, style)
    pen.setCosmetic(True)
    return pen


def in_view(painter: QPainter) -> None:
    """Switch the painter to viewport coordinates for lines, handles and labels."""
    painter.resetTransform()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)


def frame_corners(rect: Rect) -> tuple[tuple[float, float], ...]:
    """The corners, top-left first, clockwise (the order of `FrameHit.corner`)."""
    x0, y0, x1, y1 = rect
    return (x0, y0), (x1, y0), (x1, y1), (x0, y1)


def placement_transform(placement: Placement) -> QTransform:
    """Image -> image transform q = c + s (p - c) + d, to draw a cut-out at its new place."""
    s, cx, cy = placement.scale, placement.cx, placement.cy
    return QTransform(s, 0, 0, s, cx + placement.dx - s * cx, cy + placement.dy - s * cy)


def draw_placed(
    painter: QPainter,
    view: View,
    image: QImage,
    origin: QPointF,
    placement: Placement,
    opacity: float,
) -> None:
    """A translucent cut-out whose top-left pixel is at `origin`, moved and scaled by
    `placement`; smoothed only when it shows smaller than its pixels."""
    painter.save()
    painter.setTransform(placement_transform(placement) * view.transform)
    painter.setRenderHint(
        QPainter.RenderHint.SmoothPixmapTransform, placement.scale * view.zoom < 1
    )
    painter.setOpacity(opacity)
    painter.drawImage(origin, image)
    painter.restore()


def draw_frame(painter: QPainter, view: View, rect: Rect) -> None:
    """A dashed two-tone rectangle (viewport coordinates), readable on any image."""
    on_view = view.rect(rect)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setPen(cosmetic(QColor(0, 0, 0, 200), 1))
    painter.drawRect(on_view)
    dashes = cosmetic(Qt.GlobalColor.white, 1)
    dashes.setDashPattern([DASH_PX, DASH_PX])
    painter.setPen(dashes)
    painter.drawRect(on_view)


def draw_handles(painter: QPainter, view: View, rect: Rect) -> None:
    """Square handles on a frame's corners, for the tool that moves and scales it."""
    half = HANDLE_PX / 2
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setPen(cosmetic(QColor(0, 0, 0, 220), 1))
    painter.setBrush(Qt.GlobalColor.white)
    for x, y in frame_corners(rect):
        at = view.at(x, y)
        painter.drawRect(QRectF(at.x() - half, at.y() - half, HANDLE_PX, HANDLE_PX))


def draw_arrow(painter: QPainter, start: QPointF, end: QPointF) -> None:
    """A white arrow with a dark halo from `start` to `end`, stopping at the dots."""
    dx, dy = end.x() - start.x(), end.y() - start.y()
    length = math.hypot(dx, dy)
    if length < 2 * POINT_RADIUS_PX + 2:
        return
    ux, uy = dx / length, dy / length
    a = QPointF(start.x() + ux * POINT_RADIUS_PX, start.y() + uy * POINT_RADIUS_PX)
    tip = QPointF(end.x() - ux * (POINT_RADIUS_PX + 1), end.y() - uy * (POINT_RADIUS_PX + 1))
    head = min(ARROW_HEAD_PX, length / 2)
    base = QPointF(tip.x() - ux * head, tip.y() - uy * head)
    left = QPointF(base.x() - uy * head * 0.5, base.y() + ux * head * 0.5)
    right = QPointF(base.x() + uy * head * 0.5, base.y() - ux * head * 0.5)
    for pen in (cosmetic(HALO, 5), cosmetic(Qt.GlobalColor.white, 2.5)):
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawLine(a, base)
    painter.setPen(cosmetic(HALO, 1.5))
    painter.setBrush(Qt.GlobalColor.white)
    painter.drawPolygon(QPolygonF([tip, left, right]))


def draw_label(painter: QPainter, at: QPointF, text: str) -> None:
    """White text with a dark outline, readable on any image."""
    path = QPainterPath()
    path.addText(at, painter.font(), text)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.strokePath(path, cosmetic(HALO, 3))
    painter.fillPath(path, QColor(Qt.GlobalColor.white))
