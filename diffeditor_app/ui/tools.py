"""Canvas tools: small classes with press / move / release in image coordinates, a key and
wheel hook, an overlay painter and a cursor (the TruFont / MyPaint shape).

The canvas converts view -> image coordinates once and dispatches to the active tool; a
tool never reaches up the widget tree: it is handed a `ToolHost` (the canvas) that gives it
the session and a few view services. A gesture records its start on press and pushes ONE
undo command on release, only if something changed; arrow-key nudges merge.

Image coordinates are continuous: pixel (i, j) covers [i, i + 1) x [j, j + 1). Drag points
and the paste position are pixel indices (the engine reads a point as the pixel whose centre
is at +0.5), so they are drawn at pixel centres. Hit-testing is done by pure functions that
return small frozen records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QTransform

from diffeditor_app.document import commands
from diffeditor_app.document.session import BBox, DragPair, EditSession, MaskName, MoveBox
from diffeditor_app.engine.requests import MAX_SCALE, MIN_SCALE, Point

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in continuous image coordinates
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


def frame_corners(rect: Rect) -> tuple[tuple[float, float], ...]:
    x0, y0, x1, y1 = rect
    return (x0, y0), (x1, y0), (x1, y1), (x0, y1)


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


def mask_bbox(mask: np.ndarray) -> BBox | None:
    """(x0, y0, x1, y1), exclusive, of the mask's pixels; None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def bbox_middle(bbox: BBox) -> tuple[float, float]:
    """The bounding box's centre: equals engine.geometry.bbox_centre of the mask."""
    x0, y0, x1, y1 = bbox
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0


def placed_rect(bbox: BBox, scale: float, dx: float, dy: float) -> Rect:
    """The bbox scaled by `scale` about its centre c, then shifted: q = c + s (p - c) + d
    (engine.geometry.Placement)."""
    cx, cy = bbox_middle(bbox)
    x0, y0, x1, y1 = bbox
    return (
        cx + scale * (x0 - cx) + dx,
        cy + scale * (y0 - cy) + dy,
        cx + scale * (x1 - cx) + dx,
        cy + scale * (y1 - cy) + dy,
    )


def box_rect(object_bbox: BBox, box: MoveBox) -> Rect:
    return placed_rect(object_bbox, box.scale, box.dx, box.dy)


def paste_offset(reference_bbox: BBox, at: Point) -> tuple[float, float]:
    """The shift that puts the reference object's bbox centre on the centre of pixel `at`
    (requests.paste_map: q = at + 0.5 + s (p - c))."""
    cx, cy = bbox_middle(reference_bbox)
    return at.x + 0.5 - cx, at.y + 0.5 - cy


def placement_transform(bbox: BBox, scale: float, dx: float, dy: float) -> QTransform:
    """Image -> image transform q = c + s (p - c) + d, to draw a cut-out at its new place."""
    cx, cy = bbox_middle(bbox)
    return QTransform(scale, 0, 0, scale, cx + dx - scale * cx, cy + dy - scale * cy)


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


def clamp_scale(scale: float) -> float:
    return round(min(max(scale, MIN_SCALE), MAX_SCALE), 3)


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


@dataclass(frozen=True)
class View:
    """What an overlay painter needs: image -> viewport transform and the zoom."""

    transform: QTransform
    zoom: float

    def at(self, x: float, y: float) -> QPointF:
        return self.transform.map(QPointF(x, y))


def cosmetic(color: QColor | Qt.GlobalColor, width: float = 1.0, style=Qt.PenStyle.SolidLine):
    pen = QPen(QColor(color), width, style)
    pen.setCosmetic(True)
    return pen


class Tool:
    """The base: does nothing; `press` returns True when it starts a gesture (the canvas
    then routes move and release to it until the button is released)."""

    name = ""

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

    def preview(self, what: str, value):
        """The live value of "pairs", "box" or "paste" while a gesture changes it."""
        return value

    def paint(self, painter: QPainter, view: View) -> None:
        """The tool's own overlay, painted last, in viewport coordinates."""

    # shared helpers
    def _session(self) -> EditSession | None:
        return self.host.session if self.host.on_image() else None

    def _clamp(self, pos: QPointF) -> Point | None:
        """The image pixel under `pos`, clamped to the image."""
        shape = self.host.image_shape()
        if shape is None:
            return None
        x = min(max(math.floor(pos.x()), 0), shape[1] - 1)
        y = min(max(math.floor(pos.y()), 0), shape[0] - 1)
        return Point(float(x), float(y))

    def _inside(self, pos: QPointF) -> bool:
        shape = self.host.image_shape()
        return shape is not None and 0 <= pos.x() < shape[1] and 0 <= pos.y() < shape[0]

    def _radius(self) -> float:
        return HIT_RADIUS_PX / self.host.zoom


def _nudge_step(key, modifiers) -> tuple[int, int] | None:
    if key not in NUDGE_KEYS:
        return None
    step = 10 if modifiers & Qt.KeyboardModifier.ShiftModifier else 1
    dx, dy = NUDGE_KEYS[key]
    return dx * step, dy * step


# -- brush and eraser -------------------------------------------------------------------


class BrushTool(Tool):
    """Paints (or erases) a round stamp of `brush_size` image pixels along the stroke.

    The stroke goes into a temporary buffer shown live on the mask overlay; release pushes
    ONE `commands.stroke` over the stroke's bounding box (nothing when nothing changed).
    Hardness: engine masks are boolean and the engine feathers the composite itself, so the
    painted stamp is always the hard disc of the full size; hardness only draws the brush
    cursor's soft edge (an inner ring marks where the hard core would end)."""

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

    def paint(self, painter: QPainter, view: View) -> None:
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


# -- drag points ------------------------------------------------------------------------


class PointTool(Tool):
    """Click on empty image: a handle, the next click its target (one step each). Press on
    a point drags it (one step on release); right-click on a point deletes its pair; Del /
    Backspace deletes the selected pair; arrows nudge the selected point (merged steps).
    Points are pixel indices clamped to the image; a click outside the image adds nothing."""

    name = "points"

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self.selected: PointHit | None = None
        self.hovered: PointHit | None = None
        self.dragging: PointHit | None = None
        self.adding = False
        self.start: Point | None = None
        self.live: Point | None = None
        self.press_pos: QPointF | None = None

    @property
    def cursor(self) -> Qt.CursorShape:
        if self.dragging is not None:
            return Qt.CursorShape.ClosedHandCursor
        if self.hovered is not None:
            return Qt.CursorShape.OpenHandCursor
        return Qt.CursorShape.CrossCursor

    @property
    def busy(self) -> bool:
        return self.dragging is not None or self.adding

    def _pairs(self) -> list[DragPair]:
        session = self._session()
        return session.state.pairs if session is not None else []

    def _valid(self, hit: PointHit | None) -> PointHit | None:
        pairs = self._pairs()
        if hit is None or hit.index >= len(pairs):
            return None
        if hit.which == "target" and pairs[hit.index].target is None:
            return None
        return hit

    def press(self, pos, modifiers, button=LEFT) -> bool:
        session = self._session()
        if session is None:
            return False
        hit = hit_point(self._pairs(), pos.x(), pos.y(), self._radius())
        if button == RIGHT:
            if hit is not None:
                commands.delete_pair(session, hit.index)
                self.selected = self.hovered = None
            return False
        if button != LEFT:
            return False
        if hit is not None:
            pair = self._pairs()[hit.index]
            self.dragging = self.selected = hit
            self.start = self.live = pair.handle if hit.which == "handle" else pair.target
            self.press_pos = QPointF(pos)
            self.host.refresh()
            return True
        if not self._inside(pos):
            return False
        self.adding = True
        self.live = self._clamp(pos)
        return True

    def move(self, pos, modifiers) -> None:
        """The point keeps its offset from the cursor (no jump on grab), in whole pixels."""
        if self.dragging is not None:
            dx = round(pos.x() - self.press_pos.x())
            dy = round(pos.y() - self.press_pos.y())
            self.live = self._clamp(QPointF(self.start.x + dx + 0.5, self.start.y + dy + 0.5))
            self.host.refresh()

    def release(self, pos, modifiers) -> None:
        session = self._session()
        if session is None:
            self.cancel()
            return
        if self.dragging is not None:
            self.move(pos, modifiers)
            hit, point = self.dragging, self.live
            self.dragging = self.start = self.live = None
            if self._valid(hit) is not None:
                commands.move_point(session, hit.index, hit.which, point)
            self.host.refresh()
        elif self.adding:
            self.adding = False
            point = self._clamp(pos)
            commands.add_point(session, point)
            pairs = self._pairs()
            which = "handle" if pairs[-1].target is None else "target"
            self.selected = PointHit(len(pairs) - 1, which)
            self.host.refresh()

    def cancel(self) -> None:
        self.dragging = self.start = self.live = None
        self.adding = False
        self.host.refresh()

    def hover(self, pos, modifiers) -> None:
        self.hovered = hit_point(self._pairs(), pos.x(), pos.y(), self._radius())

    def key(self, key, modifiers) -> bool:
        session = self._session()
        if session is None:
            return False
        selected = self._valid(self.selected)
        if selected is None:
            return False
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            commands.delete_pair(session, selected.index)
            self.selected = None
            return True
        step = _nudge_step(key, modifiers)
        if step is None or self.busy:
            return False
        pair = self._pairs()[selected.index]
        point = pair.handle if selected.which == "handle" else pair.target
        moved = self._clamp(QPointF(point.x + step[0] + 0.5, point.y + step[1] + 0.5))
        commands.move_point(session, selected.index, selected.which, moved, nudge=True)
        return True

    def preview(self, what: str, value):
        if what != "pairs" or self.dragging is None or self._valid(self.dragging) is None:
            return value
        pairs = list(value)
        index = self.dragging.index
        pair = pairs[index]
        if self.dragging.which == "handle":
            pairs[index] = DragPair(self.live, pair.target)
        else:
            pairs[index] = DragPair(pair.handle, self.live)
        return pairs


# -- move box and paste layer -----------------------------------------------------------


class FrameTool(Tool):
    """Shared by the move box and the paste layer: drag inside moves (whole pixels), drag a
    corner scales about the centre by the cursor's distance from it, Ctrl+wheel scales,
    arrows nudge by 1 px (10 with Shift). The scale is one number, so the aspect is always
    kept: Shift is not needed while scaling (Photoshop's Shift-to-keep-aspect is the
    default here). One undo step per gesture; nudges and wheel steps merge."""

    what = ""  # "box" or "paste"

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self.grip: FrameHit | None = None
        self.hovered: FrameHit | None = None
        self.start_pos: QPointF | None = None
        self.start = None
        self.live = None

    # subclasses: the value, its frame, and how a value moves / scales / is pushed
    def _value(self):
        raise NotImplementedError

    def _bbox(self) -> BBox | None:
        raise NotImplementedError

    def _rect(self, value) -> Rect | None:
        raise NotImplementedError

    def _moved(self, value, dx: int, dy: int):
        raise NotImplementedError

    def _scaled(self, value, scale: float):
        raise NotImplementedError

    def _push(self, value, nudge: bool = False) -> None:
        raise NotImplementedError

    @property
    def cursor(self) -> Qt.CursorShape:
        grip = self.grip or self.hovered
        if grip is None:
            return Qt.CursorShape.ArrowCursor
        if grip.part == "inside":
            return Qt.CursorShape.SizeAllCursor
        if grip.corner in (0, 2):
            return Qt.CursorShape.SizeFDiagCursor
        return Qt.CursorShape.SizeBDiagCursor

    @property
    def busy(self) -> bool:
        return self.grip is not None

    def _hit(self, pos: QPointF) -> FrameHit | None:
        if self._session() is None or self._bbox() is None:
            return None
        rect = self._rect(self._value())
        if rect is None:
            return None
        return hit_frame(rect, pos.x(), pos.y(), self._radius())

    def press(self, pos, modifiers, button=LEFT) -> bool:
        if button != LEFT:
            return False
        grip = self._hit(pos)
        if grip is None:
            return False
        self.grip, self.start_pos = grip, pos
        self.start = self.live = self._value()
        return True

    def move(self, pos, modifiers) -> None:
        if self.grip is None:
            return
        if self.grip.part == "inside":
            dx = round(pos.x() - self.start_pos.x())
            dy = round(pos.y() - self.start_pos.y())
            self.live = self._moved(self.start, dx, dy)
        else:
            x0, y0, x1, y1 = self._rect(self.start)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            before = math.hypot(self.start_pos.x() - cx, self.start_pos.y() - cy)
            now = math.hypot(pos.x() - cx, pos.y() - cy)
            if before > 1e-6:
                self.live = self._scaled(self.start, self._scale_of(self.start) * now / before)
        self.host.refresh()

    def release(self, pos, modifiers) -> None:
        if self.grip is None:
            return
        self.move(pos, modifiers)
        live, start = self.live, self.start
        self.grip = self.start_pos = self.start = self.live = None
        if self._session() is not None and live != start:
            self._push(live)
        self.host.refresh()

    def cancel(self) -> None:
        self.grip = self.start_pos = self.start = self.live = None
        self.host.refresh()

    def hover(self, pos, modifiers) -> None:
        self.hovered = self._hit(pos)

    def key(self, key, modifiers) -> bool:
        step = _nudge_step(key, modifiers)
        if step is None or self.busy or self._session() is None or self._bbox() is None:
            return False
        value = self._value()
        if self._rect(value) is None:
            return False
        self._push(self._moved(value, *step), nudge=True)
        return True

    def wheel(self, notches: float, modifiers) -> bool:
        if not modifiers & Qt.KeyboardModifier.ControlModifier or self.busy:
            return False
        if self._session() is None or self._bbox() is None:
            return False
        value = self._value()
        if self._rect(value) is None:
            return False
        scale = self._scale_of(value) * WHEEL_SCALE_STEP**notches
        self._push(self._scaled(value, scale), nudge=True)
        return True

    def _scale_of(self, value) -> float:
        return value.scale

    def preview(self, what: str, value):
        return self.live if what == self.what and self.live is not None else value


class BoxTool(FrameTool):
    """The move/resize box around the OBJECT mask's bounding box (MoveBox dx, dy, scale);
    the object's centre is kept inside the image."""

    name = "box"
    what = "box"

    def _value(self) -> MoveBox:
        return self._session().state.box

    def _bbox(self) -> BBox | None:
        return self.host.object_bbox()

    def _rect(self, value: MoveBox) -> Rect | None:
        bbox = self._bbox()
        return box_rect(bbox, value) if bbox is not None else None

    def _moved(self, value: MoveBox, dx: int, dy: int) -> MoveBox:
        cx, cy = bbox_middle(self._bbox())
        height, width = self.host.image_shape()
        new_dx = min(max(value.dx + dx, -cx), width - cx)
        new_dy = min(max(value.dy + dy, -cy), height - cy)
        return replace(value, dx=float(new_dx), dy=float(new_dy))

    def _scaled(self, value: MoveBox, scale: float) -> MoveBox:
        return replace(value, scale=clamp_scale(scale))

    def _push(self, value: MoveBox, nudge: bool = False) -> None:
        commands.set_box(self._session(), value, nudge=nudge)


class PasteTool(FrameTool):
    """The paste layer: the reference object (cut by the REFERENCE mask) with its bbox
    centre on `PasteLayer.at`. When it is not placed yet, a click (or a drag, released
    where it should go) places it. `at` is a pixel clamped to the image."""

    name = "paste"
    what = "paste"

    def _value(self):
        return self._session().state.paste

    def _bbox(self) -> BBox | None:
        return self.host.reference_bbox()

    def _rect(self, value) -> Rect | None:
        bbox = self._bbox()
        if bbox is None or value.at is None:
            return None
        return placed_rect(bbox, value.scale, *paste_offset(bbox, value.at))

    def _moved(self, value, dx: int, dy: int):
        at = self._clamp(QPointF(value.at.x + dx + 0.5, value.at.y + dy + 0.5))
        return replace(value, at=at)

    def _scaled(self, value, scale: float):
        return replace(value, scale=clamp_scale(scale))

    def _push(self, value, nudge: bool = False) -> None:
        commands.set_paste(self._session(), value, nudge=nudge)

    def press(self, pos, modifiers, button=LEFT) -> bool:
        session = self._session()
        if (
            button == LEFT
            and session is not None
            and session.state.paste.at is None
            and self._bbox() is not None
            and self._inside(pos)
        ):
            # not placed yet: the layer follows the cursor until release
            self.grip, self.start_pos = FrameHit("inside"), pos
            self.start = session.state.paste
            self.live = replace(self.start, at=self._clamp(pos))
            self.host.refresh()
            return True
        return super().press(pos, modifiers, button)

    def move(self, pos, modifiers) -> None:
        if self.grip is not None and self.start is not None and self.start.at is None:
            self.live = replace(self.start, at=self._clamp(pos))
            self.host.refresh()
            return
        super().move(pos, modifiers)


# -- pan --------------------------------------------------------------------------------


class PanTool(Tool):
    """Drag the view: keeps the image point grabbed on press under the cursor. Used as the
    "pan" tool, as the spring-loaded Space mode and for the middle mouse button."""

    name = "pan"

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


def frame_rect_on_view(rect: Rect, view: View) -> QRectF:
    a = view.at(rect[0], rect[1])
    b = view.at(rect[2], rect[3])
    return QRectF(a, b).normalized()
