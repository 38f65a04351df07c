"""The selection tools in the real window: each selection or refinement is one undo step
on the mask the brush paints, and combines with strokes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from diffeditor_app.document import commands
from diffeditor_app.document.state import MaskName
from diffeditor_app.engine.selection import iou
from diffeditor_app.engine.selection.scenes import make_scene
from diffeditor_app.ui import selection_tools
from tests.ui.conftest import ALT, NONE, RIGHT, SHIFT, click, drag

RESULT_TIMEOUT_MS = 60_000  # GrabCut / SAM in the worker thread, on a loaded machine


@pytest.fixture
def scene_window(tiny_window, tmp_path):
    scene = make_scene("flat", 120, 160, seed=11)
    path = tmp_path / "scene.png"
    Image.fromarray(scene.rgb).save(path)
    assert tiny_window.files.open_image(path)
    return tiny_window, scene


def drag_box(qtbot, canvas, start, end, modifiers=NONE) -> None:
    """A drag from one corner to the other, through the middle."""
    middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    drag(qtbot, canvas, [start, middle, end], modifiers=modifiers)


def object_mask(window):
    return window.session.mask(MaskName.OBJECT)


def test_wand_click_shift_adds_alt_subtracts_each_one_step(qtbot, scene_window):
    window, scene = scene_window
    window.set_tool("wand")
    stack = window.session.undo_stack
    click(qtbot, window.canvas, scene.click.x, scene.click.y)
    assert iou(object_mask(window), scene.truth) >= 0.97 and stack.count() == 1
    click(qtbot, window.canvas, 2, 2, SHIFT)  # the background, added (not the soft edge)
    assert object_mask(window).mean() > 0.98 and stack.count() == 2
    click(qtbot, window.canvas, scene.click.x, scene.click.y, ALT)  # the object, subtracted
    assert iou(object_mask(window), ~scene.truth) >= 0.97 and stack.count() == 3
    stack.undo()
    stack.undo()
    assert iou(object_mask(window), scene.truth) >= 0.97
    stack.redo()
    assert object_mask(window).mean() > 0.98


def test_wand_combines_with_a_brush_stroke(qtbot, scene_window):
    window, scene = scene_window
    stroke = np.zeros_like(scene.truth)
    stroke[0:4, 0:4] = True
    commands.stroke(window.session, MaskName.OBJECT, (0, 0, 4, 4), stroke[0:4, 0:4], erase=False)
    window.set_tool("wand")
    click(qtbot, window.canvas, scene.click.x, scene.click.y, SHIFT)
    mask = object_mask(window)
    assert mask[0:4, 0:4].all() and iou(mask & ~stroke, scene.truth & ~stroke) >= 0.97


def test_wand_options_are_preferences(qtbot, scene_window):
    window, _ = scene_window
    window.selection.tolerance.setValue(0)
    assert window.settings.get("wand_tolerance") == 0
    window.settings.set("wand_contiguous", False)
    assert not window.selection.contiguous.isChecked()
    assert window.session.undo_stack.count() == 0


def test_object_select_box_then_a_background_click(qtbot, scene_window):
    window, scene = scene_window
    window.set_tool("object")
    stack = window.session.undo_stack
    b = scene.box
    drag_box(qtbot, window.canvas, (b.x0, b.y0), (b.x1, b.y1))
    qtbot.waitUntil(lambda: stack.count() == 1, timeout=RESULT_TIMEOUT_MS)
    assert iou(object_mask(window), scene.truth) >= 0.9
    assert stack.text(0) == "Object select"
    inside = np.argwhere(scene.truth)[len(np.argwhere(scene.truth)) // 2]
    row, col = int(inside[0]), int(inside[1])
    click(qtbot, window.canvas, col + 0.5, row + 0.5, button=RIGHT)  # "background here"
    qtbot.waitUntil(lambda: stack.count() == 2, timeout=RESULT_TIMEOUT_MS)
    assert not object_mask(window)[row, col]
    stack.undo()
    stack.undo()
    assert not object_mask(window).any()


def test_refine_actions_are_one_step_each(qtbot, scene_window):
    window, scene = scene_window
    window.set_tool("wand")
    click(qtbot, window.canvas, scene.click.x, scene.click.y)
    before = object_mask(window).copy()
    window.settings.set("refine_radius", 3)
    stack = window.session.undo_stack
    for what in ("grow", "shrink", "feather", "invert"):
        count = stack.count()
        window.selection.refine(what)
        assert stack.count() == count + 1, what
    window.selection.refine("fill")  # the inverted mask's hole is the object: filled
    assert object_mask(window).all() and stack.count() == 6
    for _ in range(5):
        stack.undo()
    assert np.array_equal(object_mask(window), before)
    window.selection.refine("grow")
    assert object_mask(window).sum() > before.sum()
    assert stack.text(stack.count() - 1) == "Grow mask"


def test_sam_without_weights_offers_the_other_tools(qtbot, scene_window, monkeypatch):
    window, _ = scene_window
    window.settings.set("sam_model", str(window.data_dir / "no-sam-here"))
    offered = []
    monkeypatch.setattr(
        selection_tools, "ask_alternative", lambda parent, text: offered.append(text) or "object"
    )
    window.set_tool("sam")
    assert window.canvas.tool == "object" and window.tool_actions["object"].isChecked()
    assert "Object select" in offered[0] and "Magic wand" in offered[0]


def test_sam_clicks_through_the_worker(qtbot, scene_window, tmp_path):
    from diffeditor_app.engine.models.testing import write_tiny_sam

    window, scene = scene_window
    window.settings.set("sam_model", str(write_tiny_sam(tmp_path / "sam")))
    window.settings.set("device", "cpu")
    window.set_tool("sam")
    assert window.canvas.tool == "sam"
    messages = []
    window.selection.message.connect(messages.append)
    qtbot.waitUntil(lambda: any("ready" in m for m in messages), timeout=RESULT_TIMEOUT_MS)
    click(qtbot, window.canvas, scene.click.x, scene.click.y)
    qtbot.waitUntil(
        lambda: any("Segment Anything:" in m or "found nothing" in m for m in messages),
        timeout=RESULT_TIMEOUT_MS,
    )
    assert window.selection.client.worker.sam.embeddings_computed == 1
    stack = window.session.undo_stack
    assert stack.count() <= 1  # a random SAM may select nothing
    if stack.count():
        assert stack.text(0) == "Segment Anything"
