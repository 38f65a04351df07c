"""`diffeditor --demo`: the toy model and sample scene, ready for every task but the face
task, whose demo is a portrait with a slider moved (`--demo --task face`)."""

from __future__ import annotations

import pytest

from diffeditor_app.document.state import MaskName
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.ui.app import DEMO_FACE_SLIDER, prepare_face_demo

TIMEOUT_MS = 120_000


def test_the_demo_is_set_up_for_every_task(demo):
    session = demo.session
    assert session.image.size == (64, 64)
    assert session.state.task is Task.MOVE and session.state.prompt == ""
    assert session.state.prompts[Task.APPEARANCE].startswith("a purple circle")  # the result
    assert "purple triangle" in session.state.prompts[Task.PASTE]
    assert session.undo_stack.isClean()
    assert session.state.reference_prompt.startswith("a purple triangle")
    for name in (MaskName.OBJECT, MaskName.REGION, MaskName.REFERENCE):
        assert session.mask(name).any(), name
    assert len(session.state.pairs) == 1 and session.state.paste.at is not None
    reference_prompt = demo.edit_panel.reference_prompt
    assert reference_prompt.text() == session.state.reference_prompt
    assert reference_prompt.cursorPosition() == 0  # a prompt set from outside shows its start


def type_into(field, text: str) -> None:
    field.setText(text)
    field.editingFinished.emit()


def test_the_advanced_defaults_are_the_toy_models(demo):
    panel = demo.edit_panel
    assert panel.guidance.placeholderText() == "4"  # models/toy/diffeditor.json (SD: 0.5)
    assert panel.guidance.text() == ""  # nothing typed: the default of the model that runs
    panel.advanced.setChecked(True)
    type_into(panel.guidance, "5")
    assert demo.session.state.options.guidance_strength == 5.0
    type_into(panel.guidance, "4")  # the toy's default, typed: kept as typed
    assert demo.session.state.options.guidance_strength == 4.0
    type_into(panel.guidance, "")
    assert demo.session.state.options.guidance_strength is None
    demo.set_task(Task.DRAG)
    assert panel.guidance.placeholderText() == "2"  # no override for drag: SD's number
    assert demo.model_label.text() == "cpu · toy"


@pytest.mark.parametrize("task", [task for task in Task if task is not Task.FACE])
def test_each_task_edits_on_the_toy_model(demo, qtbot, task):
    demo.set_task(task)
    demo.session.set_options(steps=3)
    with qtbot.waitSignal(demo.worker.finished, timeout=TIMEOUT_MS):
        demo.edits.run()
    (candidate,) = demo.session.candidates
    assert candidate.image.size == (64, 64)


def test_the_face_demo_edits_the_portrait_with_its_slider_moved(demo, qtbot):
    assert prepare_face_demo(demo) is None  # the face extra is part of the developer install
    name, value = DEMO_FACE_SLIDER
    assert getattr(demo.session.state.face_setup.sliders, name) == value
    assert demo.session.task is Task.FACE and demo.session.undo_stack.isClean()
    demo.session.set_options(steps=3)
    with qtbot.waitSignal(demo.worker.finished, timeout=TIMEOUT_MS):
        demo.edits.run()
    (candidate,) = demo.session.candidates
    assert candidate.image.size == demo.session.image.size == (224, 224)
