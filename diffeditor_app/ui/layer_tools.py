"""The tools that edit the drag pairs, the move box and the paste layer (the tool protocol
is in tools.py). Each previews its layer's live value during a gesture and paints its own
marks on that layer: the selected point's rings, a frame's corner handles, the paste layer
following the cursor before it is placed."""

from __future__ import annotations

import math
from dataclasses import replace

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainter

from diffeditor_app.document import commands
from diffeditor_app.document.state import BBox, DragPair, MoveBox, PasteLayer
from diffeditor_app.engine.imaging.geometry import box_centre
from diffeditor_app.engine.requests import Point
from diffeditor_app.ui.drawing import (
    POINT_RADIUS_PX,
    SELECTED_COLOR,
    Rect,
    View,
    cosmetic,
    draw_handles,
)
from diffeditor_app.ui.tools import (
    DELETE_KEYS,
    LEFT,
    RIGHT,
    WHEEL_SCALE_STEP,
    FrameHit,
    Layer,
    PointHit,
    Tool,
    ToolHost,
    clamp_scale,
    grab_cursor,
    hit_frame,
    hit_point,
    move_placement,
    nudge_step,
    paste_placement,
)

SELECTED_RING_PX = 3  # the selected point's ring, beyond its dot (the other point's: 2)
PAIR_RING_PX = 2

# -- drag points ------------------------------------------------------------------------


class PointTool(Tool):
    """Click on empty image: a handle, the next click its target (one step each). Press on
    a point drags it (one step on release); right-click on a point deletes its pair; Del /
    Backspace deletes the selected pair; arrows nudge the selected point (merged steps).
    Points are pixel indices clamped to the image; a click outside the image adds nothing."""

    name = "points"
    edits = Layer.PAIRS

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
        idle = Qt.CursorShape.CrossCursor
        return grab_cursor(self.dragging is not None, self.hovered is not None, idle)

    @property
    def busy(self) -> bool:
        return self.dragging is not None or self.adding

    def _pairs(self) -> list[DragPair]:
        session = self.edited_session()
        return session.state.pairs if session is not None else []

    def _valid(self, hit: PointHit | None) -> PointHit | None:
        pairs = self._pairs()
        if hit is None or hit.index >= len(pairs):
            return None
        if hit.which == "target" and pairs[hit.index].target is None:
            return None
        return hit

    def press(self, pos, modifiers, button=LEFT) -> bool:
        session = self.edited_session()
        if session is None:
            return False
        hit = hit_point(self._pairs(), pos.x(), pos.y(), self.hit_radius())
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
        if not self.inside_image(pos):
            return False
        self.adding = True
        self.live = self.pixel_at(pos)
        return True

    def move(self, pos, modifiers) -> None:
        """The point keeps its offset from the cursor (no jump on grab), in whole pixels."""
        if self.dragging is not None:
            dx = round(pos.x() - self.press_pos.x())
            dy = round(pos.y() - self.press_pos.y())
            self.live = self.pixel_at(QPointF(self.start.x + dx + 0.5, self.start.y + dy + 0.5))
            self.host.refresh()

    def release(self, pos, modifiers) -> None:
        session = self.edited_session()
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
            point = self.pixel_at(pos)
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
        self.hovered = hit_point(self._pairs(), pos.x(), pos.y(), self.hit_radius())

    def delete_selected(self) -> bool:
        session = self.edited_session()
        selected = self._valid(self.selected)
        if session is None or selected is None:
            return False
        commands.delete_pair(session, selected.index)
        self.selected = None
        return True

    def key(self, key, modifiers) -> bool:
        if key in DELETE_KEYS:
            return self.delete_selected()
        session = self.edited_session()
        selected = self._valid(self.selected)
        step = nudge_step(key, modifiers)
        if session is None or selected is None or step is None or self.busy:
            return False
        pair = self._pairs()[selected.index]
        point = pair.handle if selected.which == "handle" else pair.target
        moved = self.pixel_at(QPointF(point.x + step[0] + 0.5, point.y + step[1] + 0.5))
        commands.move_point(session, selected.index, selected.which, moved, nudge=True)
        return True

    def preview(self, layer: Layer, value):
        if layer is not Layer.PAIRS or self.dragging is None or self._valid(self.dragging) is None:
            return value
        pairs = list(value)
        index = self.dragging.index
        pair = pairs[index]
        if self.dragging.which == "handle":
            pairs[index] = DragPair(self.live, pair.target)
        else:
            pairs[index] = DragPair(pair.handle, self.live)
        return pairs

    def paint_on_layer(self, painter: QPainter, view: View) -> None:
        """Rings around the selected pair's points, the selected point's wider."""
        pairs = self.preview(Layer.PAIRS, self._pairs())
        selected = self.selected
        if selected is None or selected.index >= len(pairs):
            return
        pair = pairs[selected.index]
        painter.setPen(cosmetic(SELECTED_COLOR, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for which, point in (("handle", pair.handle), ("target", pair.target)):
            if point is not None:
                ring = POINT_RADIUS_PX + (
                    SELECTED_RING_PX if selected.which == which else PAIR_RING_PX
                )
                painter.drawEllipse(view.pixel_centre(point), ring, ring)


# -- move box and paste layer -----------------------------------------------------------


class FrameTool(Tool):
    """Shared by the move box and the paste layer: drag inside moves (whole pixels), drag a
    corner scales about the centre by the cursor's distance from it, Ctrl+wheel scales,
    arrows nudge by 1 px (10 with Shift). The scale is one number, so the aspect is always
    kept: Shift is not needed while scaling (Photoshop's Shift-to-keep-aspect is the
    default here). One undo step per gesture; nudges and wheel steps merge."""

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
        return replace(value, scale=clamp_scale(scale))

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

    def _frame_value(self):
        """The value whose frame can be grabbed now, or None (no session, no object, not
        placed)."""
        if self.edited_session() is None or self._bbox() is None:
            return None
        value = self._value()
        return value if self._rect(value) is not None else None

    def _hit(self, pos: QPointF) -> FrameHit | None:
        value = self._frame_value()
        if value is None:
            return None
        return hit_frame(self._rect(value), pos.x(), pos.y(), self.hit_radius())

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
            cx, cy = box_centre(self._rect(self.start))
            before = math.hypot(self.start_pos.x() - cx, self.start_pos.y() - cy)
            now = math.hypot(pos.x() - cx, pos.y() - cy)
            if before > 1e-6:
                self.live = self._scaled(self.start, self.start.scale * now / before)
        self.host.refresh()

    def release(self, pos, modifiers) -> None:
        if self.grip is None:
            return
        self.move(pos, modifiers)
        live, start = self.live, self.start
        self.grip = self.start_pos = self.start = self.live = None
        if self.edited_session() is not None and live != start:
            self._push(live)
        self.host.refresh()

    def cancel(self) -> None:
        self.grip = self.start_pos = self.start = self.live = None
        self.host.refresh()

    def hover(self, pos, modifiers) -> None:
        self.hovered = self._hit(pos)

    def key(self, key, modifiers) -> bool:
        step = nudge_step(key, modifiers)
        if step is None or self.busy:
            return False
        value = self._frame_value()
        if value is None:
            return False
        self._push(self._moved(value, *step), nudge=True)
        return True

    def wheel(self, notches: float, modifiers) -> bool:
        if not modifiers & Qt.KeyboardModifier.ControlModifier or self.busy:
            return False
        value = self._frame_value()
        if value is None:
            return False
        self._push(self._scaled(value, value.scale * WHEEL_SCALE_STEP**notches), nudge=True)
        return True

    def preview(self, layer: Layer, value):
        return self.live if layer is self.edits and self.live is not None else value

    def paint_on_layer(self, painter: QPainter, view: View) -> None:
        """Corner handles on the frame, as it is drawn (live during a gesture)."""
        if self.edited_session() is None or self._bbox() is None:
            return
        rect = self._rect(self.preview(self.edits, self._value()))
        if rect is not None:
            draw_handles(painter, view, rect)


class BoxTool(FrameTool):
    """The move/resize box around the OBJECT mask's bounding box (MoveBox dx, dy, scale);
    the object's centre is kept inside the image."""

    name = "box"
    edits = Layer.BOX

    def _value(self) -> MoveBox:
        return self.edited_session().state.box

    def _bbox(self) -> BBox | None:
        return self.host.object_bbox()

    def _rect(self, value: MoveBox) -> Rect | None:
        bbox = self._bbox()
        return move_placement(bbox, value).map_box(bbox) if bbox is not None else None

    def _moved(self, value: MoveBox, dx: int, dy: int) -> MoveBox:
        cx, cy = box_centre(self._bbox())
        height, width = self.host.image_shape()
        new_dx = min(max(value.dx + dx, -cx), width - cx)
        new_dy = min(max(value.dy + dy, -cy), height - cy)
        return replace(value, dx=float(new_dx), dy=float(new_dy))

    def _push(self, value: MoveBox, nudge: bool = False) -> None:
        commands.set_box(self.edited_session(), value, nudge=nudge)


class PasteTool(FrameTool):
    """The paste layer: the reference object (cut by the REFERENCE mask) with its bbox
    centre on `PasteLayer.at`. When it is not placed yet, it follows the cursor (a faded
    preview), and a click (or a drag, released where it should go) places it. `at` is a
    pixel clamped to the image."""

    name = "paste"
    edits = Layer.PASTE

    def _value(self) -> PasteLayer:
        return self.edited_session().state.paste

    def _bbox(self) -> BBox | None:
        return self.host.reference_bbox()

    def _rect(self, value: PasteLayer) -> Rect | None:
        bbox = self._bbox()
        if bbox is None or value.at is None:
            return None
        return paste_placement(bbox, value).map_box(bbox)

    def _moved(self, value: PasteLayer, dx: int, dy: int) -> PasteLayer:
        at = self.pixel_at(QPointF(value.at.x + dx + 0.5, value.at.y + dy + 0.5))
        return replace(value, at=at)

    def _push(self, value: PasteLayer, nudge: bool = False) -> None:
        commands.set_paste(self.edited_session(), value, nudge=nudge)

    def press(self, pos, modifiers, button=LEFT) -> bool:
        session = self.edited_session()
        if (
            button == LEFT
            and session is not None
            and session.state.paste.at is None
            and self._bbox() is not None
            and self.inside_image(pos)
        ):
            # not placed yet: the layer follows the cursor until release
            self.grip, self.start_pos = FrameHit("inside"), pos
            self.start = session.state.paste
            self.live = replace(self.start, at=self.pixel_at(pos))
            self.host.refresh()
            return True
        return super().press(pos, modifiers, button)

    def move(self, pos, modifiers) -> None:
        if self.grip is not None and self.start is not None and self.start.at is None:
            self.live = replace(self.start, at=self.pixel_at(pos))
            self.host.refresh()
            return
        super().move(pos, modifiers)

    def preview(self, layer: Layer, value):
        """Besides a gesture's live value: a layer not placed yet follows the cursor over
        the image (the painter draws it faded while no gesture runs)."""
        if layer is not Layer.PASTE or self.live is not None or value.at is not None:
            return super().preview(layer, value)
        hover = self.host.hover
        if hover is None or not self.inside_image(hover):
            return value
        return PasteLayer(self.pixel_at(hover), value.scale)

    def repaint_hover(self, old: QPointF | None, new: QPointF | None) -> None:
        """An unplaced layer follows the cursor: the whole view changes."""
        session = self.host.session
        if session is not None and session.state.paste.at is None:
            self.host.refresh()
