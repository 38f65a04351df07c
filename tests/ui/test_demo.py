"""`diffeditor --demo`: the toy model and sample scene, ready for every task."""

from __future__ import annotations

import pytest

from diffeditor_app.document.session import MaskName
from diffeditor_app.engine.settings import Task
from diffeditor_app.ui.panels import TASK_LABELS

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


def test_the_advanced_defaults_are_the_toy_models(demo):
    panel = demo.edit_panel
    assert panel.guidance.value() == 4.0  # models/toy/diffeditor.json: S 4 for move (SD 0.5)
    panel.advanced.setChecked(True)
    panel.guidance.setValue(5.0)
    assert demo.session.state.options.guidance_strength == 5.0
    panel.guidance.setValue(4.0)  # back to the toy's default: no longer an override
    assert demo.session.state.options.guidance_strength is None
    demo.set_task(Task.DRAG)
    assert panel.guidance.value() == 2.0  # no override for drag: SD's number
    assert demo.model_label.text() == "cpu · toy"


@pytest.mark.parametrize("task", list(TASK_LABELS))  # the tasks the window offers
def test_each_task_edits_on_the_toy_model(demo, qtbot, task):
    demo.set_task(task)
    demo.session.set_options(steps=3)
    with qtbot.waitSignal(demo.worker.finished, timeout=TIMEOUT_MS):
        demo.edits.run()
    (candidate,) = demo.session.candidates
    assert candidate.image.size == (64, 64)
