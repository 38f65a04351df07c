"""Live previews look like the result: the VAE decodes x0 (throttled to a share of the
sampling time, every step on small models); the linear map is only the low-memory
fallback."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from diffeditor_app.engine import Editor, ModelSpec, load_model
from diffeditor_app.engine.imaging.images import load_image, load_mask
from diffeditor_app.engine.method.preview import StepPreviews
from diffeditor_app.engine.models.memory import PLANS, VramPreset
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.ui.app import DEMO_IMAGE, DEMO_MASK, DEMO_MODEL, DEMO_MOVE


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255.0**2 / error)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_decodes_are_throttled_to_their_budget_and_the_last_step_is_always_shown():
    clock = Clock()

    def slow_decode(x0):
        clock.now += 1.0  # a decode costs as much as a sampling step
        return np.zeros((8, 8, 3), np.uint8)

    previews = StepPreviews(slow_decode, torch.zeros(5, 3), budget=0.25, clock=clock)
    shown = []
    for step in range(12):
        clock.now += 1.0  # the sampling step
        shown.append(previews(torch.zeros(1, 4, 2, 2), step, 12) is not None)
    assert shown[0] and shown[-1]
    assert 2 <= sum(shown) <= 4  # about a quarter of the sampling time: 3 of 12 steps
    assert previews.decode_s <= 0.25 * 12 + 1.0


def test_without_a_budget_or_with_cheap_decodes_every_step_is_decoded():
    clock = Clock()

    def quick_decode(x0):
        clock.now += 0.01
        return np.zeros((8, 8, 3), np.uint8)

    for budget in (None, 0.25):
        previews = StepPreviews(quick_decode, torch.zeros(5, 3), budget=budget, clock=clock)
        for step in range(10):
            clock.now += 1.0
            assert previews(torch.zeros(1, 4, 2, 2), step, 10) is not None


def test_a_budget_of_zero_decodes_nothing():
    calls = []
    previews = StepPreviews(lambda x0: calls.append(x0), torch.zeros(5, 3), budget=0.0)
    assert [previews(torch.zeros(1, 4, 2, 2), i, 3) for i in range(3)] == [None] * 3
    assert calls == []
    linear = StepPreviews(None, torch.zeros(5, 3), budget=0.0)
    assert linear(torch.zeros(1, 4, 2, 2), 2, 3) is None


def test_the_linear_map_is_only_for_the_low_memory_presets():
    linear = {preset for preset, plan in PLANS.items() if plan.linear_previews}
    assert linear == {VramPreset.LOW, VramPreset.CPU_OFFLOAD}
    previews = StepPreviews(None, torch.zeros(5, 3), budget=0.25)
    assert previews(torch.zeros(1, 4, 6, 7), 0, 3).shape == (6, 7, 3)  # the latent grid


@pytest.fixture(scope="module")
def toy_editor():
    return Editor(load_model(ModelSpec(DEMO_MODEL, device="cpu")))


def last_preview(editor: Editor, request: MoveEdit) -> tuple[np.ndarray, np.ndarray]:
    """(the last live preview at the image's size, the final result)."""
    infos = []
    result = editor.edit(request, on_step=infos.append, preview_budget=0.25)
    assert infos[-1].step == request.steps - 1 and infos[-1].preview is not None
    shown = Image.fromarray(infos[-1].preview).resize(result.image.size, Image.BICUBIC)
    return np.asarray(shown), np.asarray(result.image.convert("RGB"))


def test_the_last_preview_is_within_3_db_of_the_result_on_the_demo_scene(toy_editor):
    """The demo's move on the toy model. The result is composed into the original, so even
    its own raw decode differs from it a little: the last preview must be as close to the
    result as that decode is, within 3 dB. The linear map's false colours are far off."""
    image = load_image(DEMO_IMAGE)
    mask = load_mask(DEMO_MASK, image.size)
    prompt = DEMO_IMAGE.with_suffix(".txt").read_text().strip()
    request = MoveEdit(image=image, mask=mask, offset=DEMO_MOVE, prompt=prompt, steps=10)
    preview, final = last_preview(toy_editor, request)
    raw = toy_editor.edit(replace(request, raw=True)).image.resize(
        (image.width, image.height), Image.BICUBIC
    )
    achievable = psnr(np.asarray(raw), final)
    assert psnr(preview, final) >= achievable - 3.0
    assert psnr(preview, np.asarray(raw)) >= 30.0  # the preview is the result's own decode

    model = toy_editor.model
    vae_plan = model.memory
    model.memory = replace(vae_plan, linear_previews=True)  # what the low presets show
    try:
        linear, _ = last_preview(toy_editor, request)
    finally:
        model.memory = vae_plan
    assert psnr(linear, final) < psnr(preview, final) - 3.0
