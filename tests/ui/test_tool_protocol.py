"""The tool protocol: the canvas asks the active tool what to paint and what to do, and never
its name; a tool written here plugs in with `add_tool` like the built-in ones; each
built-in tool paints its own overlay or marks."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QTransform

from diffeditor_app.document import commands
from diffeditor_app.document.state import DragPair, MaskName, MoveBox, PasteLayer
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.ui.drawing import SELECTED_COLOR, View
from diffeditor_app.ui.layer_tools import BoxTool, PasteTool, PointTool
from diffeditor_app.ui.tools import BrushTool, Layer, Tool
from tests.ui.conftest import LEFT, NONE, OBJECT_BBOX, at, pixel

MARK = QColor(0, 255, 255)  # a colour nothing else on the canvas uses
MARK_PX = 6


class MarkerTool(Tool):
    """A tool the canvas has never heard of: a square under the cursor, a record of its
    presses, and (as a pairs tool) a square on the first drag handle."""

    name = "marker"

    def __init__(self, host, edits: Layer | None = None) -> None:
        super().__init__(host)
        self.edits = edits
        self.presses: list[tuple[float, float]] = []
        self.deleted = 0

    @property
    def cursor(self) -> Qt.CursorShape:
        return Qt.CursorShape.PointingHandCursor

    def press(self, pos, modifiers, button=LEFT) -> bool:
        self.presses.append((pos.x(), pos.y()))
        return False

    def delete_selected(self) -> bool:
        self.deleted += 1
        return True

    def paint_overlay(self, painter: QPainter, view: View) -> None:
        if self.host.hover is not None:
            self._square(painter, view.transform.map(self.host.hover))

    def paint_on_layer(self, painter: QPainter, view: View) -> None:
        pairs = self.host.session.state.pairs
        if pairs:
            self._square(painter, view.pixel_centre(pairs[0].handle))

    @staticmethod
    def _square(painter: QPainter, centre: QPointF) -> None:
        half = MARK_PX / 2
        painter.fillRect(int(centre.x() - half), int(centre.y() - half), MARK_PX, MARK_PX, MARK)


@pytest.fixture
def marker(canvas):
    tool = MarkerTool(canvas)
    canvas.add_tool(tool)
    canvas.set_tool("marker")
    return tool


def test_a_plugged_in_tool_paints_its_overlay_and_sets_its_cursor(canvas, marker, qtbot):
    qtbot.mouseMove(canvas.viewport(), at(canvas, 60.5, 10.5))
    assert pixel(canvas, 60.5, 10.5) == MARK
    assert canvas.viewport().cursor().shape() == Qt.CursorShape.PointingHandCursor


def test_a_plugged_in_tool_gets_presses_in_image_coordinates(canvas, marker, qtbot):
    qtbot.mouseClick(canvas.viewport(), LEFT, NONE, at(canvas, 30.5, 20.5))
    (x, y), *_ = marker.presses
    assert x == pytest.approx(30.5, abs=0.3) and y == pytest.approx(20.5, abs=0.3)


def test_a_tool_that_edits_is_refused_while_a_candidate_shows(canvas, session, marker, qtbot):
    canvas.set_candidate(session.state.current)
    qtbot.mouseClick(canvas.viewport(), LEFT, NONE, at(canvas, 30.5, 20.5))
    assert marker.presses == []
    marker.views_only = True  # a tool that only moves the view still works
    qtbot.mouseClick(canvas.viewport(), LEFT, NONE, at(canvas, 30.5, 20.5))
    assert len(marker.presses) == 1


def test_the_layer_a_chosen_tool_edits_shows_with_its_marks(canvas, session, marker, qtbot):
    commands.add_point(session, Point(10, 50))
    session.set_task(Task.MOVE)  # a task that does not show the drag pairs
    assert pixel(canvas, 10.5, 50.5) != MARK
    marker.edits = Layer.PAIRS
    canvas.refresh()
    assert pixel(canvas, 10.5, 50.5) == MARK
    canvas.show_original(True)  # hidden with the layer while comparing
    assert pixel(canvas, 10.5, 50.5) != MARK


def test_delete_reaches_a_tool_whose_layer_shows(canvas, session, qtbot):
    other = MarkerTool(canvas, edits=Layer.PAIRS)
    canvas.add_tool(other)
    canvas.set_tool("brush")
    session.set_task(Task.MOVE)
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert other.deleted == 0  # the pairs do not show in the move task with the brush
    session.set_task(Task.DRAG)
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert other.deleted == 1


# -- each built-in tool paints its own overlay or marks ------------------------------------


def painted(paint) -> np.ndarray:
    """The ARGB pixels one paint call leaves on a transparent 200 x 150 image at zoom 2."""
    image = QImage(200, 150, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    paint(painter, View(QTransform.fromScale(2, 2), 2.0))
    painter.end()
    return np.array([[image.pixel(x, y) for x in range(200)] for y in range(150)], np.uint32)


def test_the_brush_outline_is_the_brush_tool_s_overlay(canvas):
    canvas.brush_size = 20
    canvas.hover = QPointF(50, 40)
    brush = BrushTool(canvas)
    pixels = painted(brush.paint_overlay)
    rows, cols = np.nonzero(pixels >> 24)
    assert cols.min() == pytest.approx(80, abs=3) and cols.max() == pytest.approx(120, abs=3)
    assert rows.min() == pytest.approx(60, abs=3) and rows.max() == pytest.approx(100, abs=3)
    canvas.hover = None
    assert not painted(brush.paint_overlay).any()


def test_the_points_tool_rings_the_selected_pair(canvas, session):
    commands.add_point(session, Point(10, 10))
    commands.add_point(session, Point(40, 30))
    points = PointTool(canvas)
    assert not painted(points.paint_on_layer).any()  # nothing selected
    assert points.press(QPointF(10.5, 10.5), NONE)  # grabs the handle: selects its pair
    points.release(QPointF(10.5, 10.5), NONE)
    assert session.state.pairs[0] == DragPair(Point(10, 10), Point(40, 30))
    ring = painted(points.paint_on_layer) == QColor(SELECTED_COLOR).rgb()
    rows, cols = np.nonzero(ring)
    assert rows.size and cols.min() < 2 * 10.5 < cols.max()  # around the handle ...
    assert cols.max() > 2 * 40  # ... and the target


def test_the_frame_tools_mark_their_corners(canvas, session):
    _, mask = square_scene(96, 64)
    commands.stroke(session, MaskName.OBJECT, (0, 0, 96, 64), mask, erase=False)
    box = BoxTool(canvas)
    handles = painted(box.paint_on_layer)
    white = QColor(Qt.GlobalColor.white).rgb()
    x0, y0, x1, y1 = OBJECT_BBOX
    for x, y in ((x0, y0), (x1, y1)):
        assert handles[2 * y, 2 * x] == white  # a handle square is centred on each corner
    commands.set_box(session, MoveBox(dx=10.0))
    assert painted(box.paint_on_layer)[2 * y0, 2 * (x0 + 10)] == white


def test_an_unplaced_paste_layer_follows_the_cursor_as_the_paste_tool_s_preview(canvas, session):
    reference, mask = square_scene(40, 32)
    commands.set_reference(session, reference)
    commands.stroke(session, MaskName.REFERENCE, (0, 0, 40, 32), mask, erase=False)
    paste = PasteTool(canvas)
    unplaced = session.state.paste
    canvas.hover = None
    assert paste.preview(Layer.PASTE, unplaced) == unplaced
    canvas.hover = QPointF(50.7, 20.2)
    assert paste.preview(Layer.PASTE, unplaced) == PasteLayer(Point(50, 20), unplaced.scale)
    assert paste.preview(Layer.BOX, MoveBox()) == MoveBox()  # not its layer
    canvas.hover = QPointF(500, 20)  # off the image: no preview
    assert paste.preview(Layer.PASTE, unplaced) == unplaced
