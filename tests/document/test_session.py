"""The document: every change is an undo command; do / undo / redo round-trips; snapshots
and project files carry everything."""

from __future__ import annotations

import numpy as np
import pytest

from diffeditor_app.document import commands
from diffeditor_app.document.project import load_project, save_project
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.snapshot import build_request
from diffeditor_app.document.state import DragPair, EditOptions, MaskName, MoveBox, PasteLayer
from diffeditor_app.engine import InvalidInput
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.tasks.appearance import AppearanceEdit
from diffeditor_app.engine.tasks.drag import DragEdit
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.engine.tasks.paste import PasteEdit
from diffeditor_app.engine.tasks.registry import Task


@pytest.fixture
def session(qapp):
    image, _ = square_scene(64, 48)
    return EditSession.open(image)


def test_a_stroke_is_one_command_sized_to_its_box(session, qtbot):
    after = np.ones((5, 8), dtype=bool)
    with qtbot.waitSignal(session.mask_changed) as signal:
        assert commands.stroke(session, MaskName.OBJECT, (10, 4, 18, 9), after, erase=False)
    assert signal.args == ["object", (10, 4, 18, 9)]
    mask = session.mask(MaskName.OBJECT)
    assert mask.sum() == 40 and mask[4:9, 10:18].all()
    assert session.undo_stack.count() == 1
    command = session.undo_stack.command(0)
    assert command.change.before.shape == (5, 8)  # only the box is stored, not the whole mask
    session.undo_stack.undo()
    assert not session.mask(MaskName.OBJECT).any()
    session.undo_stack.redo()
    assert session.mask(MaskName.OBJECT).sum() == 40
    assert not commands.stroke(session, MaskName.OBJECT, (10, 4, 18, 9), after, erase=False)
    assert session.undo_stack.count() == 1  # a stroke that changes nothing is no step


def test_clear_and_invert_undo(session):
    commands.stroke(session, MaskName.REGION, (0, 0, 4, 4), np.ones((4, 4), bool), erase=False)
    commands.invert_mask(session, MaskName.REGION)
    assert session.mask(MaskName.REGION).sum() == 64 * 48 - 16
    commands.clear_mask(session, MaskName.REGION)
    assert not session.mask(MaskName.REGION).any()
    commands.clear_mask(session, MaskName.REGION)  # already clear: no step
    assert session.undo_stack.count() == 3
    session.undo_stack.undo()
    session.undo_stack.undo()
    assert session.mask(MaskName.REGION).sum() == 16


def test_points_add_move_delete_clear_and_undo(session):
    commands.add_point(session, Point(10, 10))
    commands.add_point(session, Point(20, 12))
    commands.add_point(session, Point(30, 30))
    assert session.state.pairs == [DragPair(Point(10, 10), Point(20, 12)), DragPair(Point(30, 30))]
    commands.move_point(session, 0, "target", Point(22, 14))
    assert session.state.pairs[0].target == Point(22, 14)
    for x in (31, 32, 33):  # three nudges: one step
        commands.move_point(session, 1, "handle", Point(x, 30), nudge=True)
    assert session.undo_stack.count() == 5
    commands.delete_pair(session, 0)
    assert len(session.state.pairs) == 1
    commands.clear_points(session)
    assert session.state.pairs == []
    for _ in range(3):
        session.undo_stack.undo()
    assert session.state.pairs[1].handle == Point(30, 30)  # before the nudges
    assert session.state.pairs[0].target == Point(22, 14)


def test_box_and_paste_layer_gestures(session):
    commands.set_box(session, MoveBox(dx=12, dy=-4))
    commands.set_box(session, MoveBox(dx=12, dy=-4, scale=1.5))
    assert session.undo_stack.text(1) == "Scale object"
    commands.set_box(session, MoveBox(dx=13, dy=-4, scale=1.5), nudge=True)
    commands.set_box(session, MoveBox(dx=14, dy=-4, scale=1.5), nudge=True)
    assert session.undo_stack.count() == 3
    session.undo_stack.undo()
    assert session.state.box == MoveBox(dx=12, dy=-4, scale=1.5)
    commands.set_paste(session, PasteLayer(Point(30, 20), 0.8))
    session.undo_stack.undo()
    assert session.state.paste == PasteLayer()


def test_reference_and_kept_results(session):
    reference, _ = square_scene(40, 30)
    commands.set_reference(session, reference)
    assert session.mask(MaskName.REFERENCE).shape == (30, 40)
    result = SourceImage(np.zeros_like(session.image.rgb))
    original = session.state.original
    commands.keep_result(session, result)
    assert session.image is result and session.state.kept == [result]
    assert session.state.original is original
    session.undo_stack.undo()
    assert session.image is original and session.state.kept == []
    session.undo_stack.undo()
    assert session.state.reference is None and MaskName.REFERENCE not in session.state.masks


def test_no_op_settings_emit_nothing(session, qtbot):
    with qtbot.assertNotEmitted(session.task_changed):
        session.set_task(Task.MOVE)
    with qtbot.waitSignal(session.task_changed):
        session.set_task(Task.DRAG)
    with qtbot.assertNotEmitted(session.text_changed):
        session.set_text(prompt="")


def test_snapshots_copy_the_session(session):
    commands.stroke(session, MaskName.OBJECT, (10, 10, 20, 20), np.ones((10, 10), bool), False)
    commands.set_box(session, MoveBox(dx=8, dy=2, scale=1.2))
    session.set_options(guidance_strength=1.0, steps=12)
    move = build_request(session.state)
    assert isinstance(move, MoveEdit) and move.offset == (8, 2) and move.scale == 1.2
    assert move.steps == 12 and move.overrides == {"guidance_strength": 1.0}
    assert move.fill_hint is None
    commands.clear_mask(session, MaskName.OBJECT)
    assert move.mask.sum() == 100  # the snapshot did not follow the live mask

    session.set_task(Task.DRAG)
    with pytest.raises(InvalidInput, match="editable region is empty"):
        build_request(session.state)  # validated once, where it is built
    commands.stroke(session, MaskName.REGION, (0, 0, 40, 30), np.ones((30, 40), bool), False)
    commands.add_point(session, Point(5, 5))
    commands.add_point(session, Point(9, 5))
    commands.add_point(session, Point(30, 30))  # a handle without a target is left out
    drag = build_request(session.state)
    assert isinstance(drag, DragEdit) and drag.pairs == ((Point(5, 5), Point(9, 5)),)

    session.set_task(Task.PASTE)
    with pytest.raises(InvalidInput, match="reference image"):
        build_request(session.state)
    commands.set_reference(session, square_scene(40, 30)[0])
    reference = np.ones((10, 10), bool)
    commands.stroke(session, MaskName.REFERENCE, (10, 10, 20, 20), reference, False)
    with pytest.raises(InvalidInput, match="Place the reference"):
        build_request(session.state)
    commands.set_paste(session, PasteLayer(Point(30, 20), 0.5))
    paste = build_request(session.state)
    assert isinstance(paste, PasteEdit) and paste.at == (30, 20) and paste.scale == 0.5
    session.set_task(Task.APPEARANCE)
    commands.stroke(session, MaskName.OBJECT, (10, 10, 20, 20), np.ones((10, 10), bool), False)
    assert isinstance(build_request(session.state), AppearanceEdit)


def test_project_round_trip(session, tmp_path):
    commands.stroke(session, MaskName.OBJECT, (10, 10, 20, 20), np.ones((10, 10), bool), False)
    commands.add_point(session, Point(5, 5))
    commands.add_point(session, Point(9, 6.5))
    commands.set_box(session, MoveBox(3, 4, 1.25))
    commands.set_reference(session, square_scene(40, 30)[0])
    commands.set_paste(session, PasteLayer(Point(30, 20), 0.5))
    alpha = np.full((48, 64), 200, np.uint8)
    commands.keep_result(session, SourceImage(np.zeros((48, 64, 3), np.uint8), alpha=alpha))
    session.set_text(prompt="a red square", seed=7, options=EditOptions(ip_scale=0.3, steps=20))
    session.set_prompt(Task.PASTE, "a red square and a purple triangle")
    session.set_task(Task.DRAG)
    path = tmp_path / "scene.diffedit"
    save_project(session.state, path)
    state = load_project(path)
    original = session.state
    assert np.array_equal(state.original.rgb, original.original.rgb)
    assert np.array_equal(state.current.alpha, alpha)
    assert all(np.array_equal(state.masks[n], original.masks[n]) for n in original.masks)
    assert state.pairs == original.pairs and state.box == original.box
    assert state.paste == original.paste and state.task is Task.DRAG
    assert (state.prompt, state.seed, state.options) == ("a red square", 7, original.options)
    assert state.prompts == {Task.MOVE: "a red square", Task.PASTE: original.prompts[Task.PASTE]}
    assert len(state.kept) == 1 and state.reference.size == (40, 30)


def test_damaged_project_is_a_sentence(tmp_path):
    bad = tmp_path / "bad.diffedit"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InvalidInput, match="not a readable DiffEditor project"):
        load_project(bad)


def test_keeping_a_move_carries_the_mask_and_resets_the_box_in_one_undo_step(session):
    mask = np.zeros((48, 64), dtype=bool)
    mask[10:20, 8:16] = True
    commands.stroke(session, MaskName.OBJECT, (0, 0, 64, 48), mask, erase=False)
    fill = np.zeros((48, 64), dtype=bool)
    fill[30:40, 30:40] = True
    commands.stroke(session, MaskName.FILL, (0, 0, 64, 48), fill, erase=False)
    commands.set_box(session, MoveBox(dx=20, dy=5))
    commands.add_point(session, Point(1, 1))  # set up for another task: stays
    before = session.undo_stack.count()
    result = SourceImage(np.zeros_like(session.image.rgb))
    commands.keep_result(session, result)
    assert session.undo_stack.count() == before + 1  # one step
    moved = session.mask(MaskName.OBJECT)
    assert moved.sum() == mask.sum() and moved[15:25, 28:36].all()
    assert session.state.box == MoveBox() and not session.mask(MaskName.FILL).any()
    assert len(session.state.pairs) == 1
    session.undo_stack.undo()
    assert np.array_equal(session.mask(MaskName.OBJECT), mask)
    assert session.state.box == MoveBox(dx=20, dy=5) and session.mask(MaskName.FILL).any()
    assert session.image is not result


def test_a_scaled_move_keeps_a_scaled_mask(session):
    mask = np.zeros((48, 64), dtype=bool)
    mask[10:20, 10:20] = True
    commands.stroke(session, MaskName.OBJECT, (0, 0, 64, 48), mask, erase=False)
    commands.set_box(session, MoveBox(dx=10, dy=0, scale=2.0))
    commands.keep_result(session, SourceImage(np.zeros_like(session.image.rgb)))
    assert session.mask(MaskName.OBJECT).sum() == 400  # 20 x 20, centred on (25, 15)
    assert session.mask(MaskName.OBJECT)[5:25, 15:35].all()


def test_keeping_a_drag_or_a_paste_clears_what_it_spent(session):
    commands.add_point(session, Point(5, 5))
    commands.add_point(session, Point(9, 5))
    reference, _ = square_scene(40, 30)
    commands.set_reference(session, reference)
    commands.set_paste(session, PasteLayer(Point(30, 20), 0.5))
    session.set_task(Task.DRAG)
    commands.keep_result(session, SourceImage(np.zeros_like(session.image.rgb)))
    assert session.state.pairs == [] and session.state.paste.at is not None
    session.set_task(Task.PASTE)
    commands.keep_result(session, SourceImage(np.zeros_like(session.image.rgb)))
    assert session.state.paste == PasteLayer(None, 0.5)  # unplaced; its scale stays
    session.undo_stack.undo()
    assert session.state.paste.at == Point(30, 20)


def test_each_result_has_its_own_prompt_and_move_and_drag_share_the_images(session, qtbot):
    """A two-image edit's prompt says what the result shows; the image's caption, which
    move and drag read, would contradict it (issue 12)."""
    session.set_text(prompt="a red square")
    session.set_task(Task.DRAG)
    assert session.state.prompt == "a red square"
    session.set_task(Task.APPEARANCE)
    assert session.state.prompt == ""
    session.set_text(prompt="a blue square")
    with qtbot.waitSignal(session.text_changed):
        session.set_prompt(Task.PASTE, "a red square and a purple triangle")
    assert session.state.prompt == "a blue square"
    session.set_task(Task.PASTE)
    assert session.state.prompt == "a red square and a purple triangle"
    session.set_task(Task.MOVE)
    assert session.state.prompt == "a red square"
    with qtbot.assertNotEmitted(session.text_changed):
        session.set_prompt(Task.DRAG, "a red square")  # move's, already


def test_keep_follows_the_set_up_the_edit_was_run_with(session):
    """A drag's result kept while Move is chosen spends the drag's points and leaves the
    move box and the object mask alone."""
    from diffeditor_app.document.state import EditSetup

    commands.set_box(session, MoveBox(dx=5))
    commands.add_point(session, Point(3, 3))
    commands.add_point(session, Point(6, 3))
    session.set_task(Task.DRAG)
    made_with = EditSetup.of(session.state)
    session.set_task(Task.MOVE)
    commands.add_point(session, Point(9, 9))  # added after the run: stays
    before = session.mask(MaskName.OBJECT).copy()
    commands.keep_result(session, SourceImage(np.zeros_like(session.image.rgb)), made_with)
    assert session.state.box == MoveBox(dx=5)
    assert np.array_equal(session.mask(MaskName.OBJECT), before)
    assert session.state.pairs == [DragPair(Point(9, 9))]
