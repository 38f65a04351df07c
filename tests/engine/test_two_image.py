"""Appearance replacing and object pasting, the masked two-image bank and the image prompt."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from diffeditor_app.engine import InvalidInput, SourceImage
from diffeditor_app.engine.imaging.compose import blend_weights, feather_width
from diffeditor_app.engine.method.attention import (
    BankAttnProcessor,
    BankController,
    MemoryBank,
    TokenMasks,
    _Injection,
)
from diffeditor_app.engine.settings import BankMode
from diffeditor_app.engine.tasks.appearance import AppearanceEdit
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.engine.tasks.paste import PasteEdit


def reference_scene(
    width: int = 120, height: int = 90, mode: str = "RGB"
) -> tuple[SourceImage, np.ndarray]:
    """A blue picture with a yellow disc, in any PIL mode; returns the image and the disc."""
    rows, cols = np.mgrid[0:height, 0:width]
    disc = (cols - width * 0.4) ** 2 + (rows - height * 0.5) ** 2 <= (min(width, height) * 0.3) ** 2
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:] = (90, 140, 200)
    rgb[disc] = (250, 210, 30)
    return SourceImage.from_pil(Image.fromarray(rgb).convert(mode)), disc


def assert_identical_outside(result, image: SourceImage, region: np.ndarray) -> None:
    out = np.asarray(result.image)
    assert out.shape[:2] == (image.height, image.width)
    keep = blend_weights(region, feather_width(image.width, image.height)) == 0
    assert keep.sum() > 0.1 * keep.size
    assert np.array_equal(out[keep][:, :3], image.rgb[keep])


@pytest.mark.parametrize("mode", ["RGB", "P", "L"])
def test_appearance_runs_with_a_reference_of_another_size_and_mode(editor, scene, mode):
    image, mask = scene
    reference, disc = reference_scene(mode=mode)
    request = AppearanceEdit(
        image=image,
        mask=mask,
        reference=reference,
        reference_mask=disc,
        steps=6,
        prompt="a red square",
        reference_prompt="a yellow disc",
    )
    result = editor.edit(request)
    assert result.image.size == image.size
    assert_identical_outside(result, image, mask)


def test_appearance_full_schedule_costs(editor, scene):
    image, mask = scene
    reference, disc = reference_scene(64, 64)
    result = editor.edit(
        AppearanceEdit(image=image, mask=mask, reference=reference, reference_mask=disc)
    )
    # two images are inverted as one batch of two: still 50 inversion calls and 20 F_gud passes
    assert (result.unet_forward, result.unet_backward, result.prepare_unet_forward) == (164, 56, 70)
    assert_identical_outside(result, image, mask)


def test_paste_places_the_object_and_keeps_the_outside(editor, scene):
    image, _ = scene
    reference, disc = reference_scene()
    request = PasteEdit(
        image=image, reference=reference, reference_mask=disc, at=(70, 30), scale=0.5, steps=6
    )
    region = request.edit_region()
    rows, cols = np.nonzero(region)
    assert abs((cols.min() + cols.max() + 1) / 2 - 70.5) <= 1  # centred on `at`
    assert abs((rows.min() + rows.max() + 1) / 2 - 30.5) <= 1
    assert abs(region.sum() - disc.sum() * 0.25) < 0.1 * disc.sum() * 0.25  # scaled by 0.5
    result = editor.edit(request)
    assert_identical_outside(result, image, region)


def test_paste_at_the_border_is_cropped_not_wrapped(scene):
    image, _ = scene
    reference, disc = reference_scene()
    request = PasteEdit(image=image, reference=reference, reference_mask=disc, at=(94, 10))
    region = request.edit_region()
    assert region.any()
    assert not region[:, :40].any()  # nothing reappears on the left side
    assert not region[40:, :].any()  # nor at the bottom


def test_paste_entirely_outside_and_empty_reference_mask_are_errors(editor, scene):
    image, _ = scene
    reference, disc = reference_scene()
    with pytest.raises(InvalidInput, match="entirely outside"):
        editor.edit(PasteEdit(image=image, reference=reference, reference_mask=disc, at=(500, 10)))
    with pytest.raises(InvalidInput, match="reference mask is empty"):
        editor.edit(
            PasteEdit(image=image, reference=reference, reference_mask=disc & False, at=(40, 30))
        )


def test_token_masks_select_the_right_tokens():
    base = torch.zeros(4, 4, dtype=torch.bool)
    base[0:2, 0:2] = True  # the base object: the top-left 2x2 cells
    ref = torch.zeros(4, 4, dtype=torch.bool)
    ref[3, 3] = True  # the reference object: one cell
    masks = TokenMasks(base, ref)
    base_keep, ref_keep = masks.indices(16)  # a layer at the latent resolution
    assert base_keep.tolist() == [2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert ref_keep.tolist() == [15]
    base_keep, ref_keep = masks.indices(4)  # a layer at half resolution: 2x2 tokens
    assert base_keep.tolist() == [1, 2, 3]
    assert ref_keep.tolist() == [3]  # one cell still claims its token
    with pytest.raises(ValueError):
        masks.indices(5)


def test_masked_bank_concatenates_base_outside_and_reference_inside():
    bank = MemoryBank()
    key = torch.arange(2 * 16, dtype=torch.float32).view(2, 16, 1).expand(2, 16, 4).clone()
    bank.store(0, "layer", key, -key)
    base = torch.zeros(4, 4, dtype=torch.bool)
    base[0:2, 0:2] = True
    ref = torch.zeros(4, 4, dtype=torch.bool)
    ref[3, 3] = True
    action = _Injection(bank.steps[0], BankMode.MASKED, TokenMasks(base, ref))
    processor = BankAttnProcessor("layer", BankController())
    current = torch.full((2, 16, 4), 99.0)  # a CFG batch of two; current tokens are dropped
    k, v = processor.injected(action, current, current)
    expected = [2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 + 15]  # the last from image 2
    assert k.shape == (2, 13, 4)
    assert k[0, :, 0].tolist() == expected and k[1, :, 0].tolist() == expected
    assert torch.equal(v, -k)


def test_two_image_prepare_concatenates_the_image_tokens(editor, scene):
    image, mask = scene
    reference, disc = reference_scene()
    editor.edit(
        AppearanceEdit(image=image, mask=mask, reference=reference, reference_mask=disc, steps=3)
    )
    prepared = next(reversed(editor.cache.values()))
    queries = editor.model.image_prompt.encoder.resampler.config.num_queries
    assert prepared.image_tokens.shape[:2] == (2, 2 * queries)
    assert prepared.latents[0].shape[0] == 2 and prepared.text.shape[0] == 2


def test_image_branch_only_in_its_window(editor, scene, monkeypatch):
    image, mask = scene
    controller = editor.model.image_prompt.controller
    step = [0]  # the sampling step now running
    activations, feature_passes = [], []
    original_active = controller.active

    def spy_active(tokens, scale):
        activations.append((step[0], scale))
        return original_active(tokens, scale)

    monkeypatch.setattr(controller, "active", spy_active)
    extractor_call = type(editor.extractor).__call__

    def spy_extract(self, *args):
        feature_passes.append(controller.tokens)
        return extractor_call(self, *args)

    monkeypatch.setattr(type(editor.extractor), "__call__", spy_extract)
    editor.edit(
        MoveEdit(image=image, mask=mask, offset=(8, 0), overrides={"ip_scale": 0.3}),
        on_step=lambda info: step.__setitem__(0, info.step + 1),
    )
    assert sorted({s for s, _ in activations}) == list(range(10, 20))
    assert {scale for _, scale in activations} == {0.3}
    assert feature_passes and all(tokens is None for tokens in feature_passes)
    assert controller.tokens is None


def test_image_prompt_changes_the_result_and_scale_zero_turns_it_off(editor, scene):
    image, mask = scene
    base = dict(image=image, mask=mask, offset=(8, 0), steps=20, raw=True)
    with_ip = np.asarray(editor.edit(MoveEdit(overrides={"ip_scale": 5.0}, **base)).image)
    without = np.asarray(editor.edit(MoveEdit(image_prompt=False, **base)).image)
    zero = np.asarray(editor.edit(MoveEdit(overrides={"ip_scale": 0.0}, **base)).image)
    assert not np.array_equal(with_ip, without)
    assert np.array_equal(zero, without)


def test_reference_guidance_features_use_the_base_prompt(editor, scene, monkeypatch):
    """F_ref is computed with the base caption, as F_gen is: the reference prompt only
    conditions the reference's inversion."""
    image, mask = scene
    reference, disc = reference_scene()
    texts = []
    extractor_call = type(editor.extractor).__call__

    def spy_extract(self, latent, timestep, text):
        texts.append(text)
        return extractor_call(self, latent, timestep, text)

    monkeypatch.setattr(type(editor.extractor), "__call__", spy_extract)
    editor.edit(
        AppearanceEdit(
            image=image,
            mask=mask,
            reference=reference,
            reference_mask=disc,
            steps=3,
            prompt="a red square",
            reference_prompt="a yellow disc",
        )
    )
    prepared = next(reversed(editor.cache.values()))
    assert not torch.equal(prepared.text[0], prepared.text[1])  # the two prompts differ
    pairs = [t for t in texts if t.shape[0] == 2]
    assert pairs, "no two-image feature pass ran"
    for text in pairs:
        assert torch.equal(text[0], prepared.text[0]) and torch.equal(text[1], prepared.text[0])


def test_a_guidance_scale_of_one_runs_the_text_half_alone(editor, scene):
    """At cfg 1 the unconditional half adds nothing to the prediction, so it is not run; the
    edit matches the two-half formula at a scale a hair above 1, image prompt included."""
    image, mask = scene
    reference, disc = reference_scene(64, 64)
    batches: list[int] = []
    hook = editor.model.unet.register_forward_pre_hook(
        lambda module, args: batches.append(args[0].shape[0])
    )

    def edit(scale: float):
        batches.clear()
        request = AppearanceEdit(
            image=image,
            mask=mask,
            reference=reference,
            reference_mask=disc,
            steps=10,  # table steps 10..19, the image prompt's window, are steps 2 and 3
            overrides={"cfg_scale": scale},
        )
        return editor.edit(request), list(batches)

    try:
        both, both_batches = edit(1.0 + 1e-6)
        alone, alone_batches = edit(1.0)
    finally:
        hook.remove()
    assert alone.prepare_unet_forward == 0  # the inversion was kept from the first edit
    assert both_batches.count(2) >= 10 and set(alone_batches) == {1}
    assert both.unet_forward - both.prepare_unet_forward == alone.unet_forward
    difference = np.abs(np.asarray(both.image, int) - np.asarray(alone.image, int))
    assert difference.max() <= 2
