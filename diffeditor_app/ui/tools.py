"""Canvas tools: small classes with press / move / release in image coordinates, a key and
wheel hook, their own overlay painters and a cursor (the TruFont / MyPaint shape).

The canvas converts view -> image coordinates once and dispatches to the active tool; a
tool never reaches up the widget tree: it is handed a `ToolHost` (the canvas) that gives it
the session and a few view services. A gesture records its start on press and pushes ONE
undo command on release, only if something changed; arrow-key nudges merge.

The tool protocol (`Tool`; override what the tool needs, the rest does nothing):
  name              its key in the canvas's tool table (`Canvas.add_tool`) and the window's
  edits             the `Layer` it changes, or None: the canvas shows that layer while the
                    tool is chosen (the brush shows the mask it paints even when the task
                    does not use it), and Delete reaches the tool whenever its layer shows
  views_only        True for a tool that changes only the view (pan): it also works while
                    a candidate or the original is shown
  cursor, busy      the cursor shape now; whether a gesture is in progress
  press -> bool     True starts a gesture: move and release come to the tool until the
  move, release     button is released (no tool switch meanwhile); cancel drops it (Escape)
  cancel            without pushing anything
  hover, key,       the mouse moving with no button held; a key or Ctrl+wheel notch while
  wheel             no button is held (True: used)
  delete_selected   Delete / Backspace: remove what the tool has selected (True: removed)
  preview           the live value of its layer while a gesture changes it (the layer
                    painters draw it instead of the document's)
  paint_on_layer    its marks on the layer it edits (frame handles, the selected point's
                    rings), painted with that layer while the tool is chosen
  paint_overlay     what it draws under the cursor (the brush outline), painted last, for
                    the tool the mouse drives (the pan tool while Space is held)
  repaint_hover     the mouse moved: ask the host to repaint what follows the cursor
Both painters draw in viewport coordinates (`drawing.View` maps image points) with
cosmetic pens. A new tool subclasses `Tool`, sets `name` (and `edits` if it changes a
layer), and is handed to `Canvas.add_tool`; the canvas never tests a tool's name or class.

Image coordinates are continuous: pixel (i, j) covers [i, i + 1) x [j, j + 1). Drag points
and the paste position are pixel indices (the engine reads a point as the pixel whose centre
is at +0.5), so they are drawn at pixel centres. Hit-testing is done by pure functions that
return small frozen records. Geometry is the engine's (`engine.geometry`): this module only
builds its `Placement`s from the session's move box and paste layer.

This module holds the protocol, hit-testing, the brush / eraser and the pan tool; the tools
that edit the drag pairs, the move box and the paste layer are in layer_tools.py.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter

from diffeditor_app.document import commands
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import BBox, DragPair, MaskName, MoveBox, PasteLayer
from diffeditor_app.engine.imaging.geometry import Placement, box_centre
from diffeditor_app.engine.limits import MAX_SCALE, MIN_SCALE
from diffeditor_app.engine.requests import Point
from diffeditor_app.ui.drawing import Rect, View, cosmetic, frame_corners

LEFT = Qt.MouseButton.LeftButton
RIGHT = Qt.MouseButton.RightButton
HIT_RADIUS_PX = 8.0  # screen pixels around a point or a corner that grab it
WHEEL_SCALE_STEP = 1.1  # Ctrl+wheel: one notch scales the box / paste layer by 10 %
NUDGE_KEYS = {
    Qt.Key.Key_Left: (-1, 0),
    Qt.Key.Key_Right: (1, 0),
    Qt.Key.Key_Up: (0, -1),
    Qt.Key.Key_Down: (0, 1),
}
SHIFT_NUDGE = 10  # pixels per arrow key with Shift
DELETE_KEYS = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
OUTLINE_MARGIN_PX = 2.0  # the brush outline's pen reaches this far beyond its radius
HOVER_REPAINT_PAD_PX = 4


class Layer(enum.Enum):
    """The parts of the session a tool can edit, each drawn by its own layer painter."""

    MASK = "mask"
    PAIRS = "pairs"
    BOX = "box"
    PASTE = "paste"
    LANDMARKS = "landmarks"  # the face task's points and targets


# -- pure geometry and hit-testing ------------------------------------------------------


@dataclass(frozen=True)
class PointHit:
    """A drag point under the cursor: pair `index`, its "handle" or its "target"."""

    index: int
    which: str


@dataclass(frozen=True)
class FrameHit:
    """A part of a box frame under the cursor: a "corner" (0 top-left, clockwise) or
    "inside"."""

    part: str
    corner: int = -1


def hit_point(pairs: Sequence[DragPair], x: float, y: float, radius: float) -> PointHit | None:
    """The nearest handle or target within `radius` (image pixels) of (x, y); on a tie the
    later one wins, as it is drawn on top."""
    best, best_distance = None, radius
    for index, pair in enumerate(pairs):
        for which, point in (("handle", pair.handle), ("target", pair.target)):
            if point is None:
                continue
            distance = math.hypot(point.x + 0.5 - x, point.y + 0.5 - y)
            if distance <= best_distance:
                best, best_distance = PointHit(index, which), distance
    return best


def hit_frame(rect: Rect, x: float, y: float, radius: float) -> FrameHit | None:
    """A corner within `radius` of (x, y) (the nearest), else the inside, else None."""
    distances = [math.hypot(cx - x, cy - y) for cx, cy in frame_corners(rect)]
    nearest = min(range(4), key=distances.__getitem__)
    if distances[nearest] <= radius:
        return FrameHit("corner", nearest)
    x0, y0, x1, y1 = rect
    if x0 <= x <= x1 and y0 <= y <= y1:
        return FrameHit("inside")
    return None


def move_placement(object_bbox: BBox, box: MoveBox) -> Placement:
    """The move box as the engine's placement: the object scaled about its bounding-box
    centre, then shifted (what the move request's `placement` does with the same numbers)."""
    return Placement(box.scale, box.dx, box.dy, *box_centre(object_bbox))


def paste_placement(reference_bbox: BBox, paste: PasteLayer) -> Placement:
    """A placed paste layer as the engine's placement: the reference object scaled about its
    bounding-box centre c, which lands on the centre of pixel `at` (requests.paste_map:
    q = at + 0.5 + s (p - c))."""
    cx, cy = box_centre(reference_bbox)
    return Placement(paste.scale, paste.at.x + 0.5 - cx, paste.at.y + 0.5 - cy, cx, cy)


def segment_stamp(
    shape: tuple[int, int], p0: tuple[float, float], p1: tuple[float, float], radius: float
) -> tuple[BBox, np.ndarray] | None:
    """The pixels whose centres lie within `radius` of the segment p0 -> p1 (a capsule, so a
    fast stroke has no gaps), plus the pixel under p1 so a 1-px brush always paints; the
    stamp is cropped to the image: (bbox, bool array of the bbox's shape), or None."""
    height, width = shape
    x0 = max(math.floor(min(p0[0], p1[0]) - radius), 0)
    y0 = max(math.floor(min(p0[1], p1[1]) - radius), 0)
    x1 = min(math.ceil(max(p0[0], p1[0]) + radius) + 1, width)
    y1 = min(math.ceil(max(p0[1], p1[1]) + radius) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return None
    xs = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5 - p0[0]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5 - p0[1]
    ux, uy = p1[0] - p0[0], p1[1] - p0[1]
    length2 = ux * ux + uy * uy
    t = 0.0 if length2 == 0 else np.clip((xs * ux + ys * uy) / length2, 0.0, 1.0)
    stamp = (xs - t * ux) ** 2 + (ys - t * uy) ** 2 <= radius * radius
    col, row = math.floor(p1[0]) - x0, math.floor(p1[1]) - y0
    if 0 <= row < y1 - y0 and 0 <= col < x1 - x0:
        stamp[row, col] = True
    if not stamp.any():
        return None
    return (x0, y0, x1, y1), stamp


def union(a: BBox | None, b: BBox) -> BBox:
    if a is None:
        return b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def grab_cursor(dragging: bool, hovered: bool, idle: Qt.CursorShape) -> Qt.CursorShape:
    """A point tool's cursor: a closed hand while dragging, an open one over a point."""
    if dragging:
        return Qt.CursorShape.ClosedHandCursor
    return Qt.CursorShape.OpenHandCursor if hovered else idle


def clamp_scale(scale: float) -> float:
    return round(min(max(scale, MIN_SCALE), MAX_SCALE), 3)


def nudge_step(key: Qt.Key, modifiers: Qt.KeyboardModifier) -> tuple[int, int] | None:
    """The (dx, dy) of an arrow key, in pixels; None for any other key."""
    if key not in NUDGE_KEYS:
        return None
    step = SHIFT_NUDGE if modifiers & Qt.KeyboardModifier.ShiftModifier else 1
    dx, dy = NUDGE_KEYS[key]
    return dx * step, dy * step


# -- what a tool is handed --------------------------------------------------------------


class ToolHost(Protocol):
    """What the canvas offers its tools (and nothing of the widget tree)."""

    session: EditSession | None
    hover: QPointF | None  # the image point under the mouse, None outside the view
    brush_size: int
    brush_hardness: float

    @property
    def zoom(self) -> float: ...  # screen pixels per image pixel

    def image_shape(self) -> tuple[int, int] | None: ...  # (height, width) of the target

    def active_mask(self) -> MaskName | None: ...  # the mask the brush paints, if it exists

    def show_mask(self, name: MaskName, bbox: BBox, pixels: np.ndarray | None) -> None: ...

    def object_bbox(self) -> BBox | None: ...

    def reference_bbox(self) -> BBox | None: ...

    def on_image(self) -> bool: ...  # the canvas shows the image, not the reference

    def scroll_image(self, dx: float, dy: float) -> None: ...

    def refresh(self) -> None: ...

    def repaint_image_rect(self, rect: QRectF, pad_px: int) -> None: ...  # image coordinates


class Tool:
    """The base of the tool protocol (see the module docstring): does nothing."""

    name = ""
    edits: Layer | None = None
    views_only = False

    def __init__(self, host: ToolHost) -> None:
        self.host = host

    @property
    def cursor(self) -> Qt.CursorShape:
        return Qt.CursorShape.ArrowCursor

    @property
    def busy(self) -> bool:
        return False

    def press(self, pos: QPointF, modifiers, button=LEFT) -> bool:
        return False

    def move(self, pos: QPointF, modifiers) -> None:
        pass

    def release(self, pos: QPointF, modifiers) -> None:
        pass

    def hover(self, pos: QPointF, modifiers) -> None:
        pass

    def cancel(self) -> None:
        """Drop the gesture in progress without pushing anything."""

    def key(self, key, modifiers) -> bool:
        """A key while no button is held (Escape during a gesture is the canvas's)."""
        return False

    def wheel(self, notches: float, modifiers) -> bool:
        return False

    def delete_selected(self) -> bool:
        """Delete / Backspace: remove what the tool has selected; True when it did."""
        return False

    def preview(self, layer: Layer, value: Any) -> Any:
        """The live value of `layer` while a gesture changes it (default: `value`)."""
        return value

    def paint_on_layer(self, painter: QPainter, view: View) -> None:
        """Marks on the layer this tool edits, painted with that layer (viewport
        coordinates, antialiased)."""

    def paint_overlay(self, painter: QPainter, view: View) -> None:
        """What the tool draws under the cursor, painted last (viewport coordinates,
        antialiased)."""

    def repaint_hover(self, old: QPointF | None, new: QPointF | None) -> None:
        """The hover point moved from `old` to `new` (None: off the view)."""

    # helpers for tools
    def edited_session(self) -> EditSession | None:
        """The session, when the canvas shows its image (not the reference)."""
        return self.host.session if self.host.on_image() else None

    def pixel_at(self, pos: QPointF) -> Point | None:
        """The image pixel under `pos`, clamped to the image."""
        shape = self.host.image_shape()
        if shape is None:
            return None
        x = min(max(math.floor(pos.x()), 0), shape[1] - 1)
        y = min(max(math.floor(pos.y()), 0), shape[0] - 1)
        return Point(float(x), float(y))

    def inside_image(self, pos: QPointF) -> bool:
        shape = self.host.image_shape()
        return shape is not None and 0 <= pos.x() < shape[1] and 0 <= pos.y() < shape[0]

    def hit_radius(self) -> float:
        """HIT_RADIUS_PX in image pixels at the current zoom."""
        return HIT_RADIUS_PX / self.host.zoom


# -- brush and eraser -------------------------------------------------------------------


class BrushTool(Tool):
    """Paints (or erases) a round stamp of `brush_size` image pixels along the stroke.

    The stroke goes into a temporary buffer shown live on the mask overlay; release pushes
    ONE `commands.stroke` over the stroke's bounding box (nothing when nothing changed).
    Hardness: engine masks are boolean and the engine feathers the composite itself, so the
    painted stamp is always the hard disc of the full size; hardness only draws the brush
    cursor's soft edge (an inner ring marks where the hard core would end)."""

    edits = Layer.MASK

    def __init__(self, host: ToolHost, erase: bool = False) -> None:
        super().__init__(host)
        self.erase = erase
        self.name = "eraser" if erase else "brush"
        self._reset()

    def _reset(self) -> None:
        self.mask_name: MaskName | None = None
        self.buffer: np.ndarray | None = None
        self.bbox: BBox | None = None
        self.last: tuple[float, float] | None = None

    @property
    def cursor(self) -> Qt.CursorShape:
        return Qt.CursorShape.CrossCursor

    @property
    def busy(self) -> bool:
        return self.buffer is not None

    def press(self, pos, modifiers, button=LEFT) -> bool:
        name = self.host.active_mask()
        if button != LEFT or name is None or self.host.session is None:
            return False
        self.mask_name = name
        self.buffer = np.zeros(self.host.session.mask(name).shape, dtype=bool)
        self.last = (pos.x(), pos.y())
        self._stamp(self.last)
        return True

    def move(self, pos, modifiers) -> None:
        if self.buffer is not None:
            self._stamp((pos.x(), pos.y()))

    def release(self, pos, modifiers) -> None:
        if self.buffer is None:
            return
        self._stamp((pos.x(), pos.y()))
        name, bbox = self.mask_name, self.bbox
        after = self._after(bbox) if bbox is not None else None
        self._reset()
        if bbox is not None:
            commands.stroke(self.host.session, name, bbox, after, self.erase)

    def cancel(self) -> None:
        if self.buffer is not None and self.bbox is not None:
            self.host.show_mask(self.mask_name, self.bbox, None)
        self._reset()

    def _after(self, bbox: BBox) -> np.ndarray:
        x0, y0, x1, y1 = bbox
        region = self.host.session.mask(self.mask_name)[y0:y1, x0:x1]
        painted = self.buffer[y0:y1, x0:x1]
        return region & ~painted if self.erase else region | painted

    def _stamp(self, point: tuple[float, float]) -> None:
        radius = max(self.host.brush_size, 1) / 2.0
        stamp = segment_stamp(self.buffer.shape, self.last, point, radius)
        self.last = point
        if stamp is None:
            return
        bbox, pixels = stamp
        x0, y0, x1, y1 = bbox
        self.buffer[y0:y1, x0:x1] |= pixels
        self.bbox = union(self.bbox, bbox)
        self.host.show_mask(self.mask_name, bbox, self._after(bbox))

    def paint_overlay(self, painter: QPainter, view: View) -> None:
        """The brush outline at the brush's true size on screen, two-tone so it shows on
        any image; a dashed inner ring marks the hardness."""
        if self.host.hover is None or self.host.active_mask() is None:
            return
        centre = view.transform.map(self.host.hover)
        radius = max(self.host.brush_size, 1) / 2.0 * view.zoom
        painter.setBrush(Qt.BrushStyle.NoBrush)
        style = Qt.PenStyle.DashLine if self.erase else Qt.PenStyle.SolidLine
        painter.setPen(cosmetic(QColor(0, 0, 0, 160), 3))
        painter.drawEllipse(centre, radius, radius)
        painter.setPen(cosmetic(Qt.GlobalColor.white, 1, style))
        painter.drawEllipse(centre, radius, radius)
        hardness = self.host.brush_hardness
        if hardness < 1.0 and radius * hardness > 3:
            inner = radius * hardness
            painter.setPen(cosmetic(QColor(255, 255, 255, 150), 1, Qt.PenStyle.DotLine))
            painter.drawEllipse(centre, inner, inner)

    def repaint_hover(self, old: QPointF | None, new: QPointF | None) -> None:
        """The outline's old and new places: only those rectangles are repainted."""
        radius = self.host.brush_size / 2.0 + OUTLINE_MARGIN_PX / max(self.host.zoom, 1e-6)
        for point in (old, new):
            if point is not None:
                rect = QRectF(point.x() - radius, point.y() - radius, 2 * radius, 2 * radius)
                self.host.repaint_image_rect(rect, HOVER_REPAINT_PAD_PX)


# -- pan --------------------------------------------------------------------------------


class PanTool(Tool):
    """Drag the view: keeps the image point grabbed on press under the cursor. Used as the
    "pan" tool, as the spring-loaded Space mode and for the middle mouse button."""

    name = "pan"
    views_only = True

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self.anchor: QPointF | None = None

    @property
    def cursor(self) -> Qt.CursorShape:
        if self.anchor is not None:
            return Qt.CursorShape.ClosedHandCursor
        return Qt.CursorShape.OpenHandCursor

    @property
    def busy(self) -> bool:
        return self.anchor is not None

    def press(self, pos, modifiers, button=LEFT) -> bool:
        self.anchor = QPointF(pos)
        return True

    def move(self, pos, modifiers) -> None:
        if self.anchor is not None:
            self.host.scroll_image(self.anchor.x() - pos.x(), self.anchor.y() - pos.y())

    def release(self, pos, modifiers) -> None:
        self.move(pos, modifiers)
        self.anchor = None

    def cancel(self) -> None:
        self.anchor = None
