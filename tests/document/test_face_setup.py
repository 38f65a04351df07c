"""The face task's set-up in the document: the request it builds from the faces found, each
source of targets (sliders, the user's drags, a reference face), groups that hold their
place, one undo step per gesture, and Keep spending the set-up."""

from __future__ import annotations

import numpy as np
import pytest

from diffeditor_app.document import commands, gestures
from diffeditor_app.document.faces import FINDING, NO_FACE, face_points, remember
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.snapshot import build_request
from diffeditor_app.document.state import FOUND_KEPT, FaceSetup, FoundFaces, MaskName
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.face.align import GROUPS
from diffeditor_app.engine.face.landmarks import MISSING_SENTENCE, Face
from diffeditor_app.engine.face.sliders import Sliders
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.settings import Quality
from diffeditor_app.engine.tasks.face import FaceEdit
from diffeditor_app.engine.tasks.registry import Task
from tests.face.conftest import face_at

SIZE = 128


@pytest.fixture
def face_session(qtbot) -> EditSession:
    image = SourceImage(np.full((SIZE, SIZE, 3), 128, dtype=np.uint8))
    session = EditSession.open(image)
    session.set_task(Task.FACE)
    return session


def found(session: EditSession, *faces: Face, problem: str = "") -> None:
    session.add_found(FoundFaces(session.image, faces, problem))


def request(session: EditSession) -> FaceEdit:
    made = build_request(session.state, 512, Quality.FULL)
    assert isinstance(made, FaceEdit)
    return made


def moved(face_edit: FaceEdit) -> set[int]:
    """The points whose target is more than a rounding error away."""
    return {
        i
        for i, (handle, target) in enumerate(face_edit.pairs)
        if np.hypot(target.x - handle.x, target.y - handle.y) > 1e-6
    }


def test_the_face_task_says_why_it_cannot_edit_until_a_face_is_found(face_session):
    with pytest.raises(InvalidInput, match=FINDING):
        build_request(face_session.state, 512, Quality.FULL)
    found(face_session, problem=MISSING_SENTENCE)
    with pytest.raises(InvalidInput, match="face extra"):
        build_request(face_session.state, 512, Quality.FULL)


def test_no_face_and_an_unmoved_face_are_refused_in_a_sentence(qtbot):
    for faces, said in (((), NO_FACE), ((face_at(64, 60),), "No face point moves")):
        image = SourceImage(np.zeros((SIZE, SIZE, 3), dtype=np.uint8))
        session = EditSession.open(image)
        session.set_task(Task.FACE)
        found(session, *faces)
        with pytest.raises(InvalidInput, match=said):
            build_request(session.state, 512, Quality.FULL)


def test_a_slider_makes_a_request_of_68_pairs_that_moves_only_its_group(face_session):
    face = face_at(64, 60)
    found(face_session, face)
    commands.face_change(face_session, gestures.set_slider(face_session.state, "smile", 0.8))
    made = request(face_session)
    assert len(made.pairs) == 68 and made.face_box == face.box and made.mask is None
    assert moved(made) and moved(made) <= set(GROUPS["mouth"])
    expected = Sliders(smile=0.8).targets(face.points)
    assert np.allclose([[t.x, t.y] for _, t in made.pairs], expected)
    region = np.zeros((SIZE, SIZE), dtype=bool)
    region[40:90, 40:90] = True
    commands.stroke(face_session, MaskName.REGION, (0, 0, SIZE, SIZE), region, erase=False)
    assert request(face_session).mask.sum() == region.sum()  # the optional face mask


def test_a_group_that_is_off_holds_its_points(face_session):
    found(face_session, face_at(64, 60))
    state = face_session.state
    commands.face_change(face_session, gestures.set_slider(state, "smile", 1.0))
    commands.face_change(face_session, gestures.set_slider(state, "eye_size", 1.0))
    commands.face_change(face_session, gestures.toggle_group(state, "mouth", False))
    assert moved(request(face_session)) == set(GROUPS["eyes"])
    mouth_point = GROUPS["mouth"][0]
    assert gestures.drag_face_point(state, mouth_point, (10.0, 10.0)) is None  # held
    commands.face_change(face_session, gestures.toggle_group(state, "eyes", False))
    with pytest.raises(InvalidInput, match="No face point moves"):
        request(face_session)


def test_a_dragged_point_lands_where_it_was_dropped_on_top_of_the_sliders(face_session):
    face = face_at(64, 60)
    found(face_session, face)
    state = face_session.state
    commands.face_change(face_session, gestures.set_slider(state, "mouth_open", 0.5))
    commands.face_change(face_session, gestures.drag_face_point(state, 57, (70.0, 95.0)))
    pairs = request(face_session).pairs
    assert pairs[57][1] == Point(70.0, 95.0)
    assert pairs[8][1] == pairs[8][0]  # the chin: no source moves it
    commands.face_change(face_session, gestures.set_slider(state, "mouth_open", 0.0))
    # the drag is the user's own offset: with the slider gone, it stays as far from the point
    own = np.array([70.0, 95.0]) - Sliders(mouth_open=0.5).targets(face.points)[57]
    assert np.allclose(face_points(state).targets[57], face.points[57] + own)


def test_a_reference_face_is_transferred_without_its_pose_or_size(face_session):
    """The same face turned, scaled and shifted on the reference gives no motion; a
    reference with a wider mouth moves the mouth only."""
    face = face_at(64, 60)
    found(face_session, face)
    posed = face_at(40, 50, scale=1.4, turn=0.15)
    reference = SourceImage(np.zeros((100, 100, 3), dtype=np.uint8))
    commands.set_reference(face_session, reference)
    face_session.add_found(FoundFaces(reference, (posed,)))
    state = face_session.state
    commands.face_change(face_session, gestures.transfer_reference(state, True))
    assert np.allclose(face_points(state).targets, face.points, atol=1e-6)
    wider = posed.points.copy()
    mouth = list(GROUPS["mouth"])
    centre = wider[mouth].mean(axis=0)
    wider[mouth] = centre + (wider[mouth] - centre) * 1.3
    other = SourceImage(np.zeros((100, 100, 3), dtype=np.uint8))
    commands.set_reference(face_session, other)
    face_session.add_found(FoundFaces(other, (Face(posed.box, wider),)))
    assert moved(request(face_session)) == set(GROUPS["mouth"])


def test_each_gesture_is_one_undo_step_and_a_slider_drag_merges(face_session):
    found(face_session, face_at(64, 60))
    state, stack = face_session.state, face_session.undo_stack
    for value in (0.1, 0.2, 0.3):  # one drag of the slider
        commands.face_change(face_session, gestures.set_slider(state, "smile", value, gesture=1))
    for value in (0.4, 0.5):  # a second drag
        commands.face_change(face_session, gestures.set_slider(state, "smile", value, gesture=2))
    commands.face_change(face_session, gestures.set_slider(state, "smile", 0.6))  # a key press
    assert stack.count() == 3
    stack.undo()
    assert state.face_setup.sliders.smile == 0.5
    stack.undo()
    assert state.face_setup.sliders.smile == 0.3
    stack.undo()
    assert state.face_setup == FaceSetup()


def test_keep_spends_the_set_up_and_undo_brings_it_back(face_session):
    found(face_session, face_at(64, 60))
    state = face_session.state
    commands.face_change(face_session, gestures.set_slider(state, "smile", 0.5))
    commands.face_change(face_session, gestures.toggle_group(state, "jaw", False))
    commands.face_change(face_session, gestures.drag_face_point(state, 30, (64.0, 50.0)))
    before = state.face_setup
    commands.keep_result(face_session, SourceImage(np.zeros((SIZE, SIZE, 3), dtype=np.uint8)))
    assert state.face_setup == FaceSetup(groups=before.groups)  # the groups stay as chosen
    assert face_points(state) is None  # the result's landmarks are not found yet
    face_session.undo_stack.undo()
    assert state.face_setup == before and face_points(state) is not None


def test_choosing_another_face_starts_its_points_unmoved(face_session):
    found(face_session, face_at(40, 60, 0.7), face_at(95, 60, 0.6))
    state = face_session.state
    commands.face_change(face_session, gestures.set_slider(state, "smile", 0.5))
    commands.face_change(face_session, gestures.choose_face(state, 1))
    assert state.face_setup == FaceSetup(chosen=1)
    assert face_points(state).face.box[0] > 64


def test_the_session_remembers_a_few_detections_and_the_first_answer_per_image(qtbot):
    image = SourceImage(np.zeros((8, 8, 3), dtype=np.uint8))
    session = EditSession.open(image)
    images = [SourceImage(np.zeros((8, 8, 3), dtype=np.uint8)) for _ in range(FOUND_KEPT + 2)]
    for other in images:
        assert remember(session.state, FoundFaces(other))
    assert not remember(session.state, FoundFaces(images[-1], problem="later"))
    assert len(session.state.found) == FOUND_KEPT
    assert session.state.found[0].image is images[-1] and not session.state.found[0].problem
