"""The face task on the canvas: the chosen face's 68 points and their targets, coloured by
group, the other faces' boxes, the reference face's points on the reference canvas, and the
tool that drags a target (one undo step per drag, arrow nudges merged) or picks another
face with a click inside its box.

Points of a group that is off are hollow and grey: they hold their place and cannot be
dragged. A moved target is joined to its point by a line.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter

from diffeditor_app.document import commands, gestures
from diffeditor_app.document.faces import FacePoints, face_points, found_on, reference_face
from diffeditor_app.engine.face.align import GROUPS
from diffeditor_app.engine.face.landmarks import POINTS
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.ui.drawing import HALO, SELECTED_COLOR, View, cosmetic, in_view
from diffeditor_app.ui.tools import (
    DELETE_KEYS,
    LEFT,
    Layer,
    Tool,
    ToolHost,
    grab_cursor,
    nudge_step,
)

GROUP_COLORS = {
    "jaw": QColor(255, 190, 40),  # amber
    "brows": QColor(190, 110, 255),  # violet
    "nose": QColor(60, 220, 120),  # green
    "eyes": QColor(60, 190, 255),  # sky blue
    "mouth": QColor(255, 80, 120),  # rose
}
HELD_COLOR = QColor(170, 170, 170)
POINT_PX = 3.0  # a face point's dot radius, screen pixels (68 of them: smaller than drag's)
TARGET_PX = 4.5  # a moved target's dot
SELECTED_RING = 3.0
OTHER_FACE_PEN = 1.5  # the boxes of the faces not chosen


def group_colors() -> list[QColor]:
    """[68] colours, the iBUG 300-W order."""
    colors = [HELD_COLOR] * POINTS
    for name, indices in GROUPS.items():
        for index in indices:
            colors[index] = GROUP_COLORS[name]
    return colors


POINT_COLORS = group_colors()


def _at(view: View, xy: np.ndarray) -> QPointF:
    """A landmark (a pixel index, as the engine reads points) at its pixel's centre."""
    return view.pixel_centre(Point(float(xy[0]), float(xy[1])))


class FaceTool(Tool):
    """Press on a target and drag it (one step on release); arrows nudge the selected one
    (merged steps); Delete puts its target back on its point; a click inside another face's
    box chooses that face."""

    name = "landmarks"
    edits = Layer.LANDMARKS

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self.selected: int | None = None
        self.hovered: int | None = None
        self.dragging: int | None = None
        self.start: np.ndarray | None = None  # the dragged target at the press
        self.press_pos: QPointF | None = None
        self.live: np.ndarray | None = None

    @property
    def cursor(self) -> Qt.CursorShape:
        idle = Qt.CursorShape.ArrowCursor
        return grab_cursor(self.dragging is not None, self.hovered is not None, idle)

    @property
    def busy(self) -> bool:
        return self.dragging is not None

    def _points(self) -> FacePoints | None:
        session = self.edited_session()
        return face_points(session.state) if session is not None else None

    def _hit(self, pos: QPointF) -> int | None:
        """The nearest target that may move within the hit radius (on a tie: the later)."""
        points = self._points()
        if points is None:
            return None
        best, best_distance = None, self.hit_radius()
        for index, (x, y) in enumerate(points.targets):
            if points.held[index]:
                continue
            distance = math.hypot(x + 0.5 - pos.x(), y + 0.5 - pos.y())
            if distance <= best_distance:
                best, best_distance = index, distance
        return best

    def _face_under(self, pos: QPointF) -> int | None:
        session = self.edited_session()
        found = found_on(session.state, session.state.current) if session else None
        for index, face in enumerate(found.faces if found else ()):
            x0, y0, x1, y1 = face.box
            if x0 <= pos.x() <= x1 and y0 <= pos.y() <= y1:
                return index
        return None

    def press(self, pos, modifiers, button=LEFT) -> bool:
        session = self.edited_session()
        if session is None or button != LEFT:
            return False
        hit = self._hit(pos)
        if hit is not None:
            self.dragging = self.selected = hit
            self.start = self.live = self._points().targets[hit].copy()
            self.press_pos = QPointF(pos)
            self.host.refresh()
            return True
        other = self._face_under(pos)
        if other is not None and other != session.state.face_setup.chosen:
            commands.face_change(session, gestures.choose_face(session.state, other))
            self.selected = None
            self.host.refresh()
        return False

    def move(self, pos, modifiers) -> None:
        """The target keeps its offset from the cursor (no jump on grab), kept on the image."""
        if self.dragging is None:
            return
        shape = self.host.image_shape()
        moved = self.start + np.array([pos.x() - self.press_pos.x(), pos.y() - self.press_pos.y()])
        self.live = np.clip(np.round(moved), 0, (shape[1] - 1, shape[0] - 1))
        self.host.refresh()

    def release(self, pos, modifiers) -> None:
        session = self.edited_session()
        if self.dragging is None or session is None:
            self.cancel()
            return
        self.move(pos, modifiers)
        index, target = self.dragging, self.live
        self.dragging = self.start = self.live = None
        commands.face_change(session, gestures.drag_face_point(session.state, index, target))
        self.host.refresh()

    def cancel(self) -> None:
        self.dragging = self.start = self.live = None
        self.host.refresh()

    def hover(self, pos, modifiers) -> None:
        self.hovered = self._hit(pos)

    def delete_selected(self) -> bool:
        session = self.edited_session()
        if session is None or self.selected is None:
            return False
        change = gestures.undrag_face_point(session.state, self.selected)
        return commands.face_change(session, change)

    def key(self, key, modifiers) -> bool:
        if key in DELETE_KEYS:
            return self.delete_selected()
        session, points, step = self.edited_session(), self._points(), nudge_step(key, modifiers)
        if session is None or points is None or self.selected is None or step is None:
            return False
        target = points.targets[self.selected] + step
        change = gestures.drag_face_point(session.state, self.selected, target, nudge=True)
        commands.face_change(session, change)
        return True

    def preview(self, layer: Layer, value):
        if layer is not Layer.LANDMARKS or self.dragging is None or value is None:
            return value
        targets = value.targets.copy()
        targets[self.dragging] = self.live
        return FacePoints(value.face, value.points, targets, value.held)

    def paint_on_layer(self, painter: QPainter, view: View) -> None:
        points = self.preview(Layer.LANDMARKS, self._points())
        if points is None or self.selected is None:
            return
        painter.setPen(cosmetic(SELECTED_COLOR, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        ring = TARGET_PX + SELECTED_RING
        painter.drawEllipse(_at(view, points.targets[self.selected]), ring, ring)


def paint_face_points(painter: QPainter, view: View, points: FacePoints) -> None:
    """Points as small dots in their group's colour; moved targets as larger dots joined to
    their points; held points hollow and grey."""
    for index, (point, target) in enumerate(zip(points.points, points.targets, strict=True)):
        if points.held[index] or np.array_equal(point, target):
            continue
        painter.setPen(cosmetic(HALO, 3))
        painter.drawLine(_at(view, point), _at(view, target))
        painter.setPen(cosmetic(POINT_COLORS[index], 1.5))
        painter.drawLine(_at(view, point), _at(view, target))
    for index, point in enumerate(points.points):
        if points.held[index]:
            painter.setPen(cosmetic(HELD_COLOR, 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
        else:
            painter.setPen(cosmetic(HALO, 1))
            painter.setBrush(POINT_COLORS[index])
        painter.drawEllipse(_at(view, point), POINT_PX, POINT_PX)
    for index, (point, target) in enumerate(zip(points.points, points.targets, strict=True)):
        if points.held[index] or np.array_equal(point, target):
            continue
        painter.setPen(cosmetic(Qt.GlobalColor.white, 1.5))
        painter.setBrush(POINT_COLORS[index])
        painter.drawEllipse(_at(view, target), TARGET_PX, TARGET_PX)


def paint_face(painter: QPainter, view: View, host) -> None:
    """The face layer: on the image canvas, the other faces' boxes and the chosen face's
    points and targets (the chosen tool's live drag included); on the reference canvas, the
    reference face's points. Shown while the face task is chosen and no candidate shows."""
    session = host.session
    if session is None or host.comparing or session.task is not Task.FACE:
        return
    in_view(painter)
    if host.target == "reference":
        face = reference_face(session.state)
        if face is not None:
            none_held = np.zeros(POINTS, dtype=bool)
            paint_face_points(painter, view, FacePoints(face, face.points, face.points, none_held))
        return
    found = found_on(session.state, session.state.current)
    for index, face in enumerate(found.faces if found else ()):
        if index != session.state.face_setup.chosen:
            painter.setPen(cosmetic(Qt.GlobalColor.white, OTHER_FACE_PEN, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(view.rect(face.box))
    tool = host.chosen_tool()
    points = tool.preview(Layer.LANDMARKS, face_points(session.state))
    if points is not None:
        paint_face_points(painter, view, points)
        if tool.edits is Layer.LANDMARKS:
            tool.paint_on_layer(painter, view)
