"""The Face task as a user meets it: faces found when the task opens (the real detector on the
test portrait), points drawn in their group's colour, a slider drag as one undo step, a target
dragged on the canvas, groups that hold, a face picked among several, a reference face
transferred, the edit and Keep, and the missing extra said in one sentence."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog, QStyle, QStyleOptionSlider

import diffeditor_app.runtime.landmarks as landmarks_module
from diffeditor_app.document import commands, gestures
from diffeditor_app.document.faces import NO_FACE, face_points, found_on
from diffeditor_app.document.state import MaskName
from diffeditor_app.engine.errors import MissingExtra
from diffeditor_app.engine.face.align import GROUPS
from diffeditor_app.engine.face.landmarks import MISSING_SENTENCE, Face
from diffeditor_app.engine.face.sliders import Sliders
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.tasks.registry import Task
from tests.face.conftest import PORTRAIT, face_at
from tests.ui.conftest import LEFT, NONE, SHIFT, at, drag, send_move_to

CTRL = Qt.KeyboardModifier.ControlModifier

TIMEOUT_MS = 120_000
FIND_MS = 30_000  # the landmark model's first load takes a couple of seconds


def open_face_task(window, qtbot, path=PORTRAIT) -> None:
    """Open `path` as the user does, click the Face task, wait for its faces."""
    window.files.open_image(path)
    window.task_actions[Task.FACE].trigger()
    session = window.session
    qtbot.waitUntil(lambda: found_on(session.state, session.image) is not None, timeout=FIND_MS)


def slider_handle(slider) -> QPoint:
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    rect = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider
    )
    return rect.center()


@pytest.fixture
def fake_faces(monkeypatch):
    """The detector replaced (ask for it before the window, which takes the detector it
    finds when it is made): `answers` maps an image's mean grey level to its faces, or to
    an exception to raise; every image asked about is recorded."""

    class Fake:
        def __init__(self) -> None:
            self.answers: dict[int, tuple[Face, ...] | Exception] = {}
            self.asked: list = []

        def __call__(self, image):
            self.asked.append(image)
            answer = self.answers.get(round(float(image.rgb.mean())), ())
            if isinstance(answer, Exception):
                raise answer
            return list(answer)

    fake = Fake()
    monkeypatch.setattr(landmarks_module, "detect_faces", fake)
    return fake


def grey(folder, level: int, name: str, size: int = 128):
    path = folder / name
    Image.new("RGB", (size, size), (level, level, level)).save(path)
    return path


def test_the_face_task_finds_the_portraits_face_and_draws_its_points(tiny_window, qtbot):
    window = tiny_window
    open_face_task(window, qtbot)
    assert window.face_panel.status.text().startswith("One face found")
    assert window.face_dock.isVisibleTo(window) and window.canvas.tool == "landmarks"
    points = face_points(window.session.state)
    assert points is not None and points.points.shape == (68, 2)
    window.canvas.fit()
    shot = window.canvas.grab().toImage()
    x, y = points.points[GROUPS["mouth"][0]]  # a mouth corner's dot is rose
    colour = shot.pixelColor(at(window.canvas, x + 0.5, y + 0.5))
    assert colour.red() > 200 and colour.green() < 150, colour.name()


def test_a_slider_drag_is_one_undo_step_and_a_key_on_it_another(tiny_window, qtbot):
    window = tiny_window
    open_face_task(window, qtbot)
    slider = window.face_panel.sliders["smile"][0]
    start = slider_handle(slider)
    qtbot.mousePress(slider, LEFT, NONE, start)
    for dx in (10, 20, 30, 40):
        send_move_to(slider, start + QPoint(dx, 0))
    qtbot.mouseRelease(slider, LEFT, NONE, start + QPoint(40, 0))
    stack = window.session.undo_stack
    smile = window.session.state.face_setup.sliders.smile
    assert smile > 0 and stack.count() == 1 and stack.text(0) == "Face slider: smile"
    moved = face_points(window.session.state)
    assert {i for i in range(68) if not np.array_equal(moved.points[i], moved.targets[i])} <= set(
        GROUPS["mouth"]
    )
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert stack.count() == 2 and window.session.state.face_setup.sliders.smile > smile
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert window.session.state.face_setup.sliders.smile == 0
    assert window.face_panel.sliders["smile"][1].text() == "0.00"


def test_a_target_dragged_on_the_canvas_is_where_the_edit_takes_it(tiny_window, qtbot):
    window = tiny_window
    open_face_task(window, qtbot)
    window.canvas.fit()
    state = window.session.state
    x, y = face_points(state).points[57]  # the lower lip's middle
    drag(qtbot, window.canvas, [(x + 0.5, y + 0.5), (x + 3, y + 6), (x + 0.5, y + 10.5)])
    assert window.session.undo_stack.text(0) == "Move face point 58"
    target = face_points(state).targets[57]
    assert abs(target[0] - x) <= 1 and abs(target[1] - (y + 10)) <= 1
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas.viewport(), Qt.Key.Key_Right)  # a nudge of the same point
    assert face_points(state).targets[57][0] == target[0] + 1
    qtbot.keyClick(window.canvas.viewport(), Qt.Key.Key_Delete)  # its target back on it
    assert np.array_equal(face_points(state).targets[57], face_points(state).points[57])


def test_a_group_switched_off_holds_its_points_on_the_canvas(tiny_window, qtbot):
    window = tiny_window
    open_face_task(window, qtbot)
    qtbot.mouseClick(window.face_panel.groups["mouth"], LEFT)
    state = window.session.state
    assert "mouth" not in state.face_setup.groups
    x, y = face_points(state).points[57]
    drag(qtbot, window.canvas, [(x + 0.5, y + 0.5), (x + 0.5, y + 10.5)])
    assert np.array_equal(face_points(state).targets[57], face_points(state).points[57])
    assert window.session.undo_stack.count() == 1  # the toggle alone


def test_a_second_face_is_picked_in_the_list_or_by_a_click_in_its_box(
    fake_faces, tiny_window, qtbot, tmp_path
):
    fake_faces.answers[90] = (face_at(40, 60, 0.8), face_at(95, 64, 0.6))
    window = tiny_window
    open_face_task(window, qtbot, grey(tmp_path, 90, "two.png"))
    choice = window.face_panel.face_choice
    assert choice.isVisibleTo(window) and choice.count() == 2
    window.canvas.fit()
    qtbot.mouseClick(window.canvas.viewport(), LEFT, NONE, at(window.canvas, 95, 70))
    assert window.session.state.face_setup.chosen == 1 and choice.currentIndex() == 1
    assert window.session.undo_stack.text(0) == "Choose face 2"


def test_a_reference_face_loaded_in_the_dock_is_transferred(
    fake_faces, tiny_window, qtbot, tmp_path, monkeypatch
):
    source = face_at(64, 60)
    wider = source.points.copy()
    mouth = list(GROUPS["mouth"])
    wider[mouth] = wider[mouth].mean(axis=0) + (wider[mouth] - wider[mouth].mean(axis=0)) * 1.3
    fake_faces.answers[100] = (source,)
    fake_faces.answers[60] = (Face(source.box, wider),)
    window = tiny_window
    open_face_task(window, qtbot, grey(tmp_path, 100, "source.png"))
    assert not window.face_panel.transfer.isEnabled()
    reference = grey(tmp_path, 60, "reference.png")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: (str(reference), ""))
    window.load_reference_button.click()
    qtbot.waitUntil(window.face_panel.transfer.isEnabled, timeout=FIND_MS)
    qtbot.mouseClick(window.face_panel.transfer, LEFT)
    points = face_points(window.session.state)
    assert np.allclose(points.targets[mouth], wider[mouth])
    assert np.allclose(points.targets[: mouth[0]], source.points[: mouth[0]])
    canvas = window.reference_canvas  # the reference face's points show on it
    canvas.fit()
    x, y = wider[mouth[0]]
    colour = canvas.grab().toImage().pixelColor(at(canvas, x + 0.5, y + 0.5))
    assert colour.red() > 200 and colour.green() < 150, colour.name()


def test_edit_and_keep_move_the_points_onto_the_results_landmarks(
    fake_faces, tiny_window, qtbot, tmp_path
):
    """The result's faces are looked for once it is kept; here the detector "finds" the face
    3 px to the right on any image but the one opened."""
    opened = face_at(64, 60)
    fake_faces.answers[100] = (opened,)
    window = tiny_window
    open_face_task(window, qtbot, grey(tmp_path, 100, "face.png"))
    kept_face = Face(opened.box, opened.points + np.array([3.0, 0.0]))
    fake_faces.answers.update({level: (kept_face,) for level in range(256) if level != 100})
    window.session.set_options(steps=2)
    slider = window.face_panel.sliders["mouth_open"][0]
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    with qtbot.waitSignal(window.worker.finished, timeout=TIMEOUT_MS):
        window.edit_panel.edit_button.click()
    window.candidates.keep.click()
    qtbot.waitUntil(lambda: face_points(window.session.state) is not None, timeout=FIND_MS)
    state = window.session.state
    assert np.allclose(face_points(state).points, opened.points + np.array([3.0, 0.0]))
    assert state.face_setup.sliders.mouth_open == 0 and not face_points(state).moves
    assert len(fake_faces.asked) == 2  # the photo, then the kept result


def test_without_the_face_extra_the_task_says_what_to_install_and_the_rest_works(
    fake_faces, tiny_window, qtbot, tmp_path, messages_shown
):
    fake_faces.answers[100] = MissingExtra(MISSING_SENTENCE)
    window = tiny_window
    window.interactive = True  # the problem is shown, as to a user
    window.files.open_image(grey(tmp_path, 100, "face.png"))
    window.task_actions[Task.FACE].trigger()
    qtbot.waitUntil(lambda: "face extra" in window.face_panel.status.text(), timeout=FIND_MS)
    assert window.face_panel.status.text() == MISSING_SENTENCE
    assert not window.face_panel.sliders["smile"][0].isEnabled()
    window.edit_panel.edit_button.click()
    assert messages_shown and MISSING_SENTENCE in messages_shown[-1][1]
    window.task_actions[Task.MOVE].trigger()  # the other tasks are as they were
    assert not window.face_dock.isVisibleTo(window) and window.canvas.tool == "brush"


def test_a_photo_without_a_face_says_so(fake_faces, tiny_window, qtbot, tmp_path):
    window = tiny_window
    window.files.open_image(grey(tmp_path, 30, "wall.png"))
    window.task_actions[Task.FACE].trigger()
    qtbot.waitUntil(lambda: window.face_panel.status.text() == NO_FACE, timeout=FIND_MS)
    assert not window.face_panel.reset.isEnabled()


def test_a_painted_face_region_stays_shown_with_the_face_points_tool(
    fake_faces, tiny_window, qtbot, tmp_path
):
    """The optional face mask is painted with the brush and stays in view when the user
    goes back to the points, as drag's region does; the task opens on its points tool."""
    fake_faces.answers[100] = (face_at(64, 60),)
    window = tiny_window
    open_face_task(window, qtbot, grey(tmp_path, 100, "face.png"))
    assert window.canvas.tool == "landmarks"  # no painting needed first
    window.tool_actions["brush"].trigger()
    window.canvas.fit()
    drag(qtbot, window.canvas, [(10, 110), (30, 110), (50, 110)])
    assert window.session.mask(MaskName.REGION).any()
    window.tool_actions["landmarks"].trigger()
    colour = window.canvas.grab().toImage().pixelColor(at(window.canvas, 30, 110))
    assert colour.green() > colour.red() + 20, colour.name()  # the region's green over grey


def test_clear_points_puts_every_face_target_back_and_leaves_the_drag_pairs(
    fake_faces, tiny_window, qtbot, tmp_path
):
    """Edit > Clear points (Ctrl+Shift+Backspace) clears the chosen task's points."""
    fake_faces.answers[100] = (face_at(64, 60),)
    window = tiny_window
    open_face_task(window, qtbot, grey(tmp_path, 100, "face.png"))
    session = window.session
    commands.add_point(session, Point(5, 5))  # a drag pair, set up before
    commands.face_change(session, gestures.set_slider(session.state, "smile", 0.5))
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas.viewport(), Qt.Key.Key_Backspace, CTRL | SHIFT)
    assert session.state.face_setup.sliders == Sliders() and not face_points(session.state).moves
    assert len(session.state.pairs) == 1
    assert session.undo_stack.text(session.undo_stack.index() - 1) == "Reset the face points"
