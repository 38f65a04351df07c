"""The canvas driven by real (offscreen) mouse, wheel and key events: every gesture lands in
the document as one undo step; panning and zooming touch nothing in it; the layers draw
what the session holds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from diffeditor_app.document import commands
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import DragPair, MaskName, MoveBox
from diffeditor_app.engine.imaging.geometry import mask_bbox
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.ui.canvas import Canvas
from diffeditor_app.ui.qimage import mask_overlay, pil_to_qimage, rgb_to_qimage
from diffeditor_app.ui.tools import (
    FrameHit,
    PointHit,
    hit_frame,
    hit_point,
    segment_stamp,
)
from tests.ui.conftest import (
    LEFT,
    MIDDLE,
    NONE,
    OBJECT_BBOX,
    RIGHT,
    at,
    click,
    drag,
    pixel,
    send_move,
)


def paint_object(session: EditSession) -> None:
    _, mask = square_scene(96, 64)
    commands.stroke(session, MaskName.OBJECT, (0, 0, 96, 64), mask, erase=False)
    session.undo_stack.clear()


# -- brush and eraser -------------------------------------------------------------------


def test_a_brush_stroke_paints_under_its_path_as_one_undo_step(canvas, session, qtbot):
    canvas.brush_size = 6
    # two far-apart moves: the stroke is interpolated, so it has no gaps
    drag(qtbot, canvas, [(10.5, 32.5), (45.5, 32.5), (80.5, 32.5)], release=False)
    assert not session.mask(MaskName.OBJECT).any()  # live in a buffer until release
    assert session.undo_stack.count() == 0
    qtbot.mouseRelease(canvas.viewport(), LEFT, NONE, at(canvas, 80.5, 32.5))
    mask = session.mask(MaskName.OBJECT)
    assert mask[31:34, 10:81].all()  # under the path, end to end
    assert not mask[:28].any() and not mask[37:].any()  # nothing beyond the brush radius
    assert not mask[:, :7].any() and not mask[:, 84:].any()
    assert not session.mask(MaskName.REGION).any()
    assert session.undo_stack.count() == 1
    painted = mask.copy()
    session.undo_stack.undo()
    assert not session.mask(MaskName.OBJECT).any()
    session.undo_stack.redo()
    assert np.array_equal(session.mask(MaskName.OBJECT), painted)


def test_the_eraser_removes_and_undo_restores(canvas, session, qtbot):
    paint_object(session)
    canvas.set_tool("eraser")
    canvas.brush_size = 4
    drag(qtbot, canvas, [(20.5, 28.5), (44.5, 28.5)])
    mask = session.mask(MaskName.OBJECT)
    assert not mask[27:30, 24:40].any()
    assert mask[20:25, 24:40].all() and mask[32:36, 24:40].all()
    assert session.undo_stack.count() == 1 and session.undo_stack.text(0) == "Erase"
    session.undo_stack.undo()
    assert mask_bbox(session.mask(MaskName.OBJECT)) == OBJECT_BBOX
    drag(qtbot, canvas, [(80.5, 5.5), (90.5, 5.5)])  # erasing nothing is no step
    assert session.undo_stack.count() == 1 and session.undo_stack.index() == 0


def test_the_brush_paints_the_chosen_mask(canvas, session, qtbot):
    canvas.mask_name = MaskName.FILL
    canvas.brush_size = 3
    click(qtbot, canvas, 50.5, 50.5)
    assert session.mask(MaskName.FILL)[50, 50] and not session.mask(MaskName.OBJECT).any()


def test_the_reference_canvas_paints_the_reference_mask(qtbot, session):
    reference, _ = square_scene(40, 30)
    commands.set_reference(session, reference)
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 240)
    canvas.show()
    canvas.set_target("reference")
    canvas.set_session(session)
    assert canvas.mask_name is MaskName.REFERENCE
    canvas.brush_size = 4
    drag(qtbot, canvas, [(5.5, 15.5), (35.5, 15.5)])
    assert session.mask(MaskName.REFERENCE)[15, 5:36].all()
    assert not session.mask(MaskName.OBJECT).any()


def test_no_tool_switch_while_a_button_is_held(canvas, session, qtbot):
    canvas.brush_size = 4
    drag(qtbot, canvas, [(10.5, 10.5), (30.5, 10.5)], release=False)
    canvas.set_tool("eraser")
    assert canvas.tool == "brush"
    qtbot.mouseRelease(canvas.viewport(), LEFT, NONE, at(canvas, 30.5, 10.5))
    assert canvas.tool == "eraser" and session.mask(MaskName.OBJECT)[10, 10:31].all()


def test_brackets_change_the_brush_size(canvas, qtbot):
    canvas.brush_size = 20
    with qtbot.waitSignal(canvas.brush_size_changed) as signal:
        qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size > 20 and signal.args == [canvas.brush_size]
    for _ in range(40):
        qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size == 1


# -- drag points ------------------------------------------------------------------------


def test_points_add_drag_and_delete(canvas, session, qtbot):
    session.set_task(Task.DRAG)
    canvas.set_tool("points")
    click(qtbot, canvas, 20.5, 20.5)
    click(qtbot, canvas, 60.5, 40.5)
    click(qtbot, canvas, 70.5, 10.5)
    assert session.state.pairs == [
        DragPair(Point(20, 20), Point(60, 40)),
        DragPair(Point(70, 10)),
    ]
    assert session.undo_stack.count() == 3
    # grabbed off-centre, the handle keeps its offset from the cursor
    drag(qtbot, canvas, [(21.0, 20.0), (25.0, 23.0), (31.0, 25.0)])
    assert session.state.pairs[0].handle == Point(30, 25)
    assert session.undo_stack.count() == 4  # the whole drag is one step
    session.undo_stack.undo()
    assert session.state.pairs[0].handle == Point(20, 20)
    session.undo_stack.redo()
    drag(qtbot, canvas, [(60.5, 40.5), (200.0, 40.5)])  # dragged off the image: clamped
    assert session.state.pairs[0].target == Point(95, 40)
    click(qtbot, canvas, 95.5, 40.5, button=RIGHT)  # right-click deletes the pair
    assert session.state.pairs == [DragPair(Point(70, 10))]
    click(qtbot, canvas, 70.5, 10.5)  # select the pending handle, Del deletes it
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert session.state.pairs == []
    assert session.undo_stack.count() == 7


def test_a_click_outside_the_image_adds_no_point(canvas, session, qtbot):
    canvas.set_tool("points")
    click(qtbot, canvas, -5, 10)
    assert session.state.pairs == []


def test_arrow_keys_nudge_the_selected_point_in_one_step(canvas, session, qtbot):
    canvas.set_tool("points")
    click(qtbot, canvas, 20.5, 20.5)
    for _ in range(3):
        qtbot.keyClick(canvas, Qt.Key.Key_Right)
    qtbot.keyClick(canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert session.state.pairs[0].handle == Point(23, 30)
    assert session.undo_stack.count() == 2


def test_point_hit_testing_is_a_pure_function():
    pairs = [DragPair(Point(10, 10), Point(30, 10)), DragPair(Point(11, 10))]
    assert hit_point(pairs, 30.5, 10.5, 3) == PointHit(0, "target")
    assert hit_point(pairs, 11.0, 10.5, 3) == PointHit(1, "handle")  # the nearest wins
    assert hit_point(pairs, 50, 50, 3) is None
    assert hit_frame((10, 10, 20, 20), 19, 21, 3) == FrameHit("corner", 2)
    assert hit_frame((10, 10, 20, 20), 15, 15, 3) == FrameHit("inside")
    assert hit_frame((10, 10, 20, 20), 30, 30, 3) is None


def test_a_segment_stamp_has_no_gaps():
    bbox, stamp = segment_stamp((64, 96), (2.0, 2.0), (90.0, 60.0), radius=0.5)
    x0, y0, _, _ = bbox
    rows, cols = np.nonzero(stamp)
    assert stamp.sum() >= 88  # at least one pixel per column crossed
    assert set(range(2, 91)) <= set((cols + x0).tolist())
    assert set(range(2, 61)) <= set((rows + y0).tolist())
    assert segment_stamp((64, 96), (-50, -50), (-40, -40), radius=2) is None


# -- move box ---------------------------------------------------------------------------


def test_the_box_moves_by_the_dragged_distance_and_scales_from_a_corner(canvas, session, qtbot):
    paint_object(session)
    canvas.set_tool("box")
    drag(qtbot, canvas, [(32, 28), (40, 24), (47, 21)])
    box = session.state.box
    assert abs(box.dx - 15) <= 1 and abs(box.dy + 7) <= 1 and box.scale == 1
    assert session.undo_stack.count() == 1 and session.undo_stack.text(0) == "Move object"
    # the bottom-right corner, dragged twice as far from the box centre
    cx, cy = 32 + box.dx, 28 + box.dy
    drag(qtbot, canvas, [(cx + 8, cy + 8), (cx + 12, cy + 12), (cx + 16, cy + 16)])
    assert session.state.box.scale == pytest.approx(2.0, abs=0.05)
    assert (session.state.box.dx, session.state.box.dy) == (box.dx, box.dy)
    assert session.undo_stack.count() == 2 and session.undo_stack.text(1) == "Scale object"
    session.undo_stack.undo()
    assert session.state.box == box


def test_box_nudges_merge_and_a_click_moves_nothing(canvas, session, qtbot):
    paint_object(session)
    canvas.set_tool("box")
    click(qtbot, canvas, 32, 28)
    assert session.undo_stack.count() == 0
    for _ in range(3):
        qtbot.keyClick(canvas, Qt.Key.Key_Left)
    qtbot.keyClick(canvas, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    assert session.state.box == MoveBox(dx=-3, dy=-10)
    assert session.undo_stack.count() == 1


def test_the_box_needs_an_object(canvas, session, qtbot):
    canvas.set_tool("box")
    drag(qtbot, canvas, [(32, 28), (50, 28)])
    assert session.state.box == MoveBox() and session.undo_stack.count() == 0


# -- paste layer ------------------------------------------------------------------------


def with_reference(session: EditSession) -> None:
    reference, mask = square_scene(40, 32)  # its square: rows 10..19, columns 10..19
    commands.set_reference(session, reference)
    commands.stroke(session, MaskName.REFERENCE, (0, 0, 40, 32), mask, erase=False)
    session.set_task(Task.PASTE)
    session.undo_stack.clear()


def test_the_paste_layer_is_placed_dragged_and_scaled(canvas, session, qtbot):
    with_reference(session)
    canvas.set_tool("paste")
    click(qtbot, canvas, 50.5, 30.5)
    assert session.state.paste.at == Point(50, 30) and session.undo_stack.count() == 1
    drag(qtbot, canvas, [(51, 31), (56, 33), (61, 36)])
    assert session.state.paste.at == Point(60, 35)
    assert session.undo_stack.count() == 2
    wheel(canvas, at(canvas, 60, 35), 120, Qt.KeyboardModifier.ControlModifier)
    wheel(canvas, at(canvas, 60, 35), 120, Qt.KeyboardModifier.ControlModifier)
    assert session.state.paste.scale == pytest.approx(1.21)
    assert session.undo_stack.count() == 3  # wheel steps merge
    # the bottom-right corner of the 10 px object, now 12.1 px wide around (60.5, 35.5)
    corner = 60.5 + 1.21 * 5
    drag(qtbot, canvas, [(corner, 35.5 + 1.21 * 5), (60.5 + 2 * 1.21 * 5, 35.5 + 2 * 1.21 * 5)])
    assert session.state.paste.scale == pytest.approx(2.42, abs=0.05)
    session.undo_stack.undo()
    assert session.state.paste.scale == pytest.approx(1.21)


def test_the_paste_layer_shows_the_reference_object_where_it_lands(canvas, session, qtbot):
    with_reference(session)
    commands.set_paste(session, session.state.paste.__class__(Point(70, 40), 1.0))
    canvas.set_tool("paste")
    shown = pixel(canvas, 70.5, 40.5)  # the red object's centre, semi-transparent
    background = pixel(canvas, 70.5, 52.5)
    assert shown.red() > 200 and shown.green() < background.green() - 60


# -- view -------------------------------------------------------------------------------


def wheel(canvas: Canvas, pos: QPoint, delta: int, modifiers=NONE) -> None:
    viewport = canvas.viewport()
    event = QWheelEvent(
        QPointF(pos),
        QPointF(viewport.mapToGlobal(pos)),
        QPoint(),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def test_the_wheel_zooms_about_the_cursor(canvas, qtbot):
    before = canvas.zoom
    pos = at(canvas, 70, 20)
    under = canvas.map_to_image(QPointF(pos))
    with qtbot.waitSignal(canvas.zoom_changed) as signal:
        wheel(canvas, pos, 120)
    assert canvas.zoom == pytest.approx(before * 1.2) and signal.args == [canvas.zoom]
    after = canvas.map_from_image(under.x(), under.y())
    assert abs(after.x() - pos.x()) <= 1 and abs(after.y() - pos.y()) <= 1
    canvas.zoom_100()
    assert canvas.zoom == 1.0
    canvas.fit()
    assert canvas.zoom == pytest.approx(before)


def test_space_drag_pans_and_changes_nothing_in_the_document(canvas, session, qtbot):
    paint_object(session)
    mask = session.mask(MaskName.OBJECT).copy()
    origin = canvas.map_from_image(0, 0)
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    drag(qtbot, canvas, [(10, 10), (20, 15), (30, 20)])
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    moved = canvas.map_from_image(0, 0)
    zoom = canvas.zoom
    assert abs(moved.x() - origin.x() - 20 * zoom) <= 2
    assert abs(moved.y() - origin.y() - 10 * zoom) <= 2
    assert np.array_equal(session.mask(MaskName.OBJECT), mask)
    assert session.undo_stack.count() == 0
    assert canvas.tool == "brush"  # the spring-loaded pan popped
    drag(qtbot, canvas, [(70, 50), (75, 50)])  # and the brush paints again
    assert session.undo_stack.count() == 1


def test_the_middle_button_pans_with_any_tool(canvas, session, qtbot):
    origin = canvas.map_from_image(0, 0)
    drag(qtbot, canvas, [(10, 10), (10, 30)], button=MIDDLE)
    assert canvas.map_from_image(0, 0).y() - origin.y() == pytest.approx(20 * canvas.zoom, abs=2)
    assert session.undo_stack.count() == 0


def test_the_cursor_position_is_reported_in_image_pixels(canvas, qtbot):
    with qtbot.waitSignal(canvas.cursor_moved) as signal:
        send_move(canvas, at(canvas, 12.5, 7.5), buttons=Qt.MouseButton.NoButton)
    assert signal.args == [12, 7]


def test_preview_candidate_and_original_change_what_is_drawn(canvas, session, qtbot):
    beige = pixel(canvas, 80.5, 50.5)
    assert beige.red() > 200 and beige.blue() > 140
    canvas.set_preview(np.tile(np.array([0, 255, 0], np.uint8), (8, 8, 1)))
    assert pixel(canvas, 80.5, 50.5).getRgb()[:3] == (0, 255, 0)
    canvas.set_preview(None)
    blue = SourceImage(np.tile(np.array([0, 0, 255], np.uint8), (64, 96, 1)))
    canvas.set_candidate(blue)
    assert pixel(canvas, 80.5, 50.5).getRgb()[:3] == (0, 0, 255)
    canvas.set_candidate(None)
    commands.keep_result(session, SourceImage(np.zeros((64, 96, 3), np.uint8)))
    assert pixel(canvas, 80.5, 50.5).getRgb()[:3] == (0, 0, 0)
    canvas.show_original(True)
    assert pixel(canvas, 80.5, 50.5) == beige
    canvas.show_original(False)
    assert pixel(canvas, 80.5, 50.5).getRgb()[:3] == (0, 0, 0)


def test_masks_show_translucent_and_can_be_hidden(canvas, session, qtbot):
    beige = pixel(canvas, 80.5, 50.5)
    commands.stroke(session, MaskName.OBJECT, (70, 40, 90, 60), np.ones((20, 20), bool), False)
    tinted = pixel(canvas, 80.5, 50.5)
    assert tinted != beige and tinted.blue() > beige.blue()
    canvas.set_mask_visible(False)
    assert pixel(canvas, 80.5, 50.5) == beige
    canvas.set_mask_visible(True)
    session.undo_stack.undo()
    assert pixel(canvas, 80.5, 50.5) == beige


def test_the_move_ghost_is_drawn_at_the_new_place(canvas, session, qtbot):
    paint_object(session)
    empty = pixel(canvas, 72, 28)
    commands.set_box(session, MoveBox(dx=40, dy=0))
    ghost = pixel(canvas, 72, 28)
    assert ghost.red() > empty.red() - 20 and ghost.green() < empty.green() - 50


def test_the_canvas_renders_offscreen(canvas, session):
    session.set_task(Task.DRAG)
    commands.add_point(session, Point(10, 10))
    commands.add_point(session, Point(50, 40))
    image = canvas.grab().toImage()
    assert image.width() == 400 and image.height() == 300
    colours = {image.pixel(x, y) for x in range(0, 400, 7) for y in range(0, 300, 7)}
    assert len(colours) > 20
    empty = Canvas()
    empty.resize(200, 100)
    assert not empty.grab().toImage().isNull()  # no session: a hint, no crash
    empty.deleteLater()


# -- qimage -----------------------------------------------------------------------------


def test_qimage_conversions_copy_the_pixels():
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[1, 2] = (10, 20, 30)
    image = rgb_to_qimage(rgb)
    rgb[1, 2] = 0  # a copy: later changes do not leak in
    assert image.format() == QImage.Format.Format_RGB888
    assert image.pixelColor(2, 1).getRgb() == (10, 20, 30, 255)
    rgba = rgb_to_qimage(rgb, np.full((3, 4), 128, np.uint8))
    assert rgba.format() == QImage.Format.Format_RGBA8888 and rgba.pixelColor(0, 0).alpha() == 128
    mask = np.zeros((3, 4), bool)
    mask[0, 0] = True
    overlay = mask_overlay(mask, QColor(255, 0, 0), 0.5)
    assert overlay.format() == QImage.Format.Format_ARGB32_Premultiplied
    assert overlay.pixelColor(0, 0).alpha() == 128 and overlay.pixelColor(1, 0).alpha() == 0
    picture = pil_to_qimage(Image.new("LA", (5, 2), (200, 40)))
    assert (picture.width(), picture.height()) == (5, 2)
    assert picture.pixelColor(0, 0).getRgb() == (200, 200, 200, 40)


def test_escape_drops_a_gesture_in_progress(canvas, session, qtbot):
    drag(qtbot, canvas, [(10.5, 10.5), (40.5, 10.5)], release=False)
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    qtbot.mouseRelease(canvas.viewport(), LEFT, NONE, at(canvas, 40.5, 10.5))
    assert not session.mask(MaskName.OBJECT).any() and session.undo_stack.count() == 0


def test_keys_the_canvas_does_not_use_reach_the_window(qtbot, session):
    keys = []

    class Window(QWidget):
        def keyPressEvent(self, event) -> None:
            keys.append(event.key())

    window = Window()
    qtbot.addWidget(window)
    canvas = Canvas()
    QVBoxLayout(window).addWidget(canvas)
    window.show()
    canvas.set_session(session)
    qtbot.keyClick(canvas, Qt.Key.Key_Backslash)  # hold-to-compare belongs to the window
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)  # the canvas's own
    assert keys == [Qt.Key.Key_Backslash]


def test_a_mask_the_task_does_not_use_shows_only_with_the_brush(canvas, session, qtbot):
    beige = pixel(canvas, 80.5, 50.5)
    commands.stroke(session, MaskName.OBJECT, (70, 40, 90, 60), np.ones((20, 20), bool), False)
    session.set_task(Task.PASTE)
    canvas.set_tool("paste")
    assert pixel(canvas, 80.5, 50.5) == beige
    canvas.set_tool("brush")
    assert pixel(canvas, 80.5, 50.5) != beige


def test_tools_do_not_edit_while_a_candidate_is_shown(canvas, session, qtbot):
    canvas.set_tool("brush")
    canvas.set_candidate(SourceImage(np.zeros((64, 96, 3), np.uint8)))
    drag(qtbot, canvas, [(20, 20), (40, 20)])
    assert session.undo_stack.count() == 0 and not session.mask(MaskName.OBJECT).any()
    canvas.set_candidate(None)
    drag(qtbot, canvas, [(20, 20), (40, 20)])
    assert session.undo_stack.count() == 1
