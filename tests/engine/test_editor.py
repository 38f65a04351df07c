"""End to end on the tiny model: outputs, bit-exact composing, costs, cache, cancel, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffeditor_app.engine import EditCancelled, Point
from diffeditor_app.engine.imaging.compose import blend_weights, feather_width
from diffeditor_app.engine.method.inversion import PrepareSources
from diffeditor_app.engine.method.sampler import Conditioning, Costs, DiffEditorSampler
from diffeditor_app.engine.models.loading import load_model
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.settings import BankMode
from diffeditor_app.engine.tasks.drag import DragEdit
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.engine.tasks.registry import DEFAULTS, PLANNERS, Task


def untouched(region: np.ndarray) -> np.ndarray:
    """Pixels the compose step must leave bit-identical."""
    radius = feather_width(region.shape[1], region.shape[0])
    return blend_weights(region, radius) == 0


def assert_identical_outside(result, image, region):
    out = np.asarray(result.image)
    assert out.shape == image.rgb.shape
    keep = untouched(region)
    assert keep.sum() > 0.1 * keep.size
    assert np.array_equal(out[keep], image.rgb[keep])


def test_move_full_schedule_composes_and_counts(editor, scene):
    image, mask = scene
    request = MoveEdit(image=image, mask=mask, offset=(20, 6), prompt="a red square")
    result = editor.edit(request)
    assert result.image.size == image.size and result.image.mode == "RGB"
    assert_identical_outside(result, image, request.edit_region())
    changed = np.asarray(result.image) != image.rgb
    assert changed.any()  # the edit did something inside the region
    assert (result.unet_forward, result.unet_backward) == (94 + 70, 56)
    assert result.prepare_unet_forward == 70  # 50 inversion steps + 20 reference features
    assert not result.prepared_from_cache and result.prepare_s > 0
    again = editor.edit(MoveEdit(image=image, mask=mask, offset=(-10, 0), prompt="a red square"))
    assert again.prepared_from_cache and again.prepare_s == 0.0
    assert (again.unet_forward, again.unet_backward, again.prepare_unet_forward) == (94, 56, 0)
    assert again.schedule["time_travel"] == {22: 3, 24: 3, 26: 3, 28: 3}


def test_resize_and_fill_hint(editor, scene):
    image, mask = scene
    hint = np.zeros_like(mask)
    hint[50:60, 5:30] = True
    request = MoveEdit(image=image, mask=mask, offset=(10, 0), scale=1.5, fill_hint=hint, steps=6)
    result = editor.edit(request)
    assert_identical_outside(result, image, request.edit_region())
    assert request.edit_region().sum() > mask.sum() * 2  # source + a 1.5x placed copy


def test_drag_runs_and_keeps_the_outside(editor, scene):
    image, mask = scene
    region = np.zeros_like(mask)
    region[10:50, 15:70] = True
    pairs = ((Point(30, 28), Point(45, 30)), (Point(36, 22), Point(50, 20)))
    request = DragEdit(image=image, mask=region, pairs=pairs, steps=6)
    result = editor.edit(request)
    assert_identical_outside(result, image, region)
    assert not any("outside the editable region" in note for note in result.notes)


def test_drag_target_outside_the_region_grows_it(editor, scene):
    image, mask = scene
    region = np.zeros_like(mask)
    region[15:40, 20:45] = True
    request = DragEdit(image=image, mask=region, pairs=((Point(30, 28), Point(80, 50)),), steps=4)
    result = editor.edit(request)
    assert any("target of pair 1" in note for note in result.notes)
    out = np.asarray(result.image)
    assert out.shape == image.rgb.shape


def test_raw_returns_the_working_size(editor, scene):
    image, mask = scene
    result = editor.edit(MoveEdit(image=image, mask=mask, offset=(8, 0), steps=3, raw=True))
    assert result.raw and result.image.size == result.working_size
    assert result.working_size[0] % 32 == 0 and result.working_size[1] % 32 == 0


def test_same_seed_same_image_other_seed_other_image(editor, scene):
    image, mask = scene
    runs = [
        np.asarray(
            editor.edit(MoveEdit(image=image, mask=mask, offset=(8, 4), steps=10, seed=s)).image
        )
        for s in (7, 7, 8)
    ]
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])  # step 3 of 10 is a regional-SDE step


def test_cancel_stops_within_one_step_and_leaves_the_editor_usable(editor, scene):
    image, mask = scene
    seen = []

    def on_step(info):
        seen.append(info.step)
        if info.step == 2:
            raise EditCancelled

    with pytest.raises(EditCancelled):
        editor.edit(MoveEdit(image=image, mask=mask, offset=(8, 0), steps=20), on_step=on_step)
    assert seen == [0, 1, 2]
    assert editor.controller.action is None
    result = editor.edit(MoveEdit(image=image, mask=mask, offset=(8, 0), steps=3))
    assert result.image.size == image.size


def test_every_step_reports_a_preview_decoded_by_the_vae(editor, scene):
    image, mask = scene
    infos = []
    editor.edit(MoveEdit(image=image, mask=mask, offset=(8, 0), steps=5), on_step=infos.append)
    assert [i.step for i in infos] == [0, 1, 2, 3, 4] and {i.total for i in infos} == {5}
    preview = infos[-1].preview
    assert preview.dtype == np.uint8 and preview.ndim == 3 and preview.shape[2] == 3
    assert preview.shape[:2] == (64, 64)  # the working image, decoded by the VAE


def test_huge_image_composes_back_at_full_size(editor):
    image, _ = square_scene(2400, 1600)
    big_mask = np.zeros((1600, 2400), dtype=bool)
    big_mask[500:900, 600:1000] = True
    result = editor.edit(MoveEdit(image=image, mask=big_mask, offset=(300, 0), steps=3))
    assert result.image.size == (2400, 1600)
    assert_identical_outside(result, image, big_mask | np.roll(big_mask, 300, axis=1))


def test_rgba_input_keeps_its_alpha(editor, scene):
    image, mask = scene
    alpha = np.full(mask.shape, 255, np.uint8)
    alpha[:, :10] = 0
    rgba = type(image)(image.rgb, alpha=alpha)
    result = editor.edit(MoveEdit(image=rgba, mask=mask, offset=(8, 0), steps=3))
    assert result.image.mode == "RGBA"
    assert np.array_equal(np.asarray(result.image)[..., 3], alpha)


def run_sampler(editor, image, mask, settings, steps):
    """Prepare and sample directly, returning (z0 of the sampler, the inverted z0)."""
    request = MoveEdit(image=image, mask=mask, offset=(0, 0), steps=steps, settings=settings)
    frame, _ = editor.frame_for(image, None)
    plan = PLANNERS[Task.MOVE](request, frame, settings, editor.model.device)
    sources = PrepareSources((image,), ("",))
    prepared, _ = editor.prepare(sources, frame, steps, settings.bank_steps(steps))
    sampler = DiffEditorSampler(
        editor.model.unet,
        editor.model.scheduler,
        editor.extractor,
        editor.controller,
        settings,
        Costs(),
    )
    cond = Conditioning(
        timesteps=prepared.timesteps,
        latents=prepared.latents,
        text=prepared.text,
        uncond=prepared.uncond,
        bank=prepared.bank,
        reference_features=lambda i: editor.reference_features(prepared, i),
    )
    with torch.no_grad():
        z0 = sampler.sample(cond, plan, frame.grid_shape, torch.Generator().manual_seed(0))
    return z0, prepared.latents[-1], plan, sampler, cond, frame


def test_inversion_then_ode_sampling_reconstructs_the_latent(editor, scene):
    image, mask = scene
    plain = DEFAULTS[Task.MOVE].with_overrides(
        {"cfg_scale": 1.0, "guidance_strength": 0.0, "bank_mode": "off", "eta_in": 0.0}
    )
    z0, original, *_ = run_sampler(editor, image, mask, plain, steps=50)
    error = (z0 - original).norm() / original.norm()
    assert error < 0.02, f"relative reconstruction error {error:.4f}"


def test_guidance_is_split_by_the_gradient_mask(editor, scene):
    image, mask = scene
    *_, sampler, cond, frame = run_sampler(editor, image, mask, DEFAULTS[Task.MOVE], steps=2)
    z, t = cond.latents[0], cond.timesteps[0]
    request = MoveEdit(image=image, mask=mask, offset=(12, 4))

    def guidance(**weights):
        settings = DEFAULTS[Task.MOVE].with_overrides(weights)
        plan = PLANNERS[Task.MOVE](request, frame, settings, editor.model.device)
        run = DiffEditorSampler(
            sampler.unet,
            editor.model.scheduler,
            sampler.extractor,
            sampler.controller,
            settings,
            Costs(),
        )
        gradients = run.energy_gradients(z, t, 0, cond, plan, frame.grid_shape)
        return run.guidance(*gradients, plan), plan

    edit_only, plan = guidance(w_content=0.0, w_contrast=0.0, w_inpaint=0.0)
    inside = plan.grad_mask.expand_as(z) > 0
    assert inside.any() and (~inside).any()
    assert edit_only[~inside].abs().max() == 0
    assert edit_only[inside].abs().max() > 0
    content_only, _ = guidance(w_edit=0.0)
    assert content_only[inside].abs().max() == 0
    assert content_only[~inside].abs().max() > 0
    # the ablation: both gradients everywhere, so the edit gradient reaches the outside
    edit_global, _ = guidance(w_content=0.0, w_contrast=0.0, w_inpaint=0.0, regional_guidance=False)
    assert edit_global[~inside].abs().max() > 0
    torch.testing.assert_close(edit_global[inside], edit_only[inside])


@pytest.mark.parametrize("mode", [BankMode.REPLACE, BankMode.CONCAT])
def test_memory_bank_replays_the_recorded_keys(editor, scene, mode):
    """Injected K/V recorded from the same latent reproduce the plain output exactly; from
    another latent they change it."""
    from diffeditor_app.engine.method.attention import MemoryBank

    image, mask = scene
    *_, cond, _ = run_sampler(editor, image, mask, DEFAULTS[Task.MOVE], steps=2)
    unet, controller = editor.model.unet, editor.controller
    z, t, text = cond.latents[0], cond.timesteps[0], cond.text
    bank = MemoryBank()
    with torch.no_grad():
        with controller.recording(bank, 0):
            plain = unet(z, t, encoder_hidden_states=text).sample
        assert len(bank.steps[0]) == 6  # the tiny UNet's decoder self-attentions
        with controller.injecting(bank, 0, mode):
            replayed = unet(z, t, encoder_hidden_states=text).sample
        with controller.injecting(bank, 0, mode):
            other = unet(z + torch.randn_like(z), t, encoder_hidden_states=text).sample
        free = unet(z + torch.randn_like(z), t, encoder_hidden_states=text).sample
    torch.testing.assert_close(replayed, plain, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(other, free, atol=1e-4)


def test_features_stop_after_the_last_feature_block(editor):
    unet = editor.model.unet
    called = []
    handle = unet.up_blocks[3].register_forward_hook(lambda *a: called.append("up3"))
    head = unet.conv_out.register_forward_hook(lambda *a: called.append("head"))
    try:
        z = torch.randn(1, 4, 16, 16)
        text = torch.randn(1, 77, 32)
        with torch.no_grad():
            features = editor.extractor(z, 500, text)
    finally:
        handle.remove()
        head.remove()
    assert called == []
    assert [f.shape[-1] for f in features] == [8, 16]  # up_blocks[1] and [2]


def test_out_of_memory_is_a_sentence_and_releases_the_memory(editor, scene, monkeypatch):
    import weakref

    from diffeditor_app.engine.errors import OutOfMemory

    image, mask = scene
    editor.edit(MoveEdit(image=image, mask=mask, offset=(8, 0), steps=2))
    assert editor.cache
    held, emptied = [], []

    def exhausted(*args, **kwargs):
        step_tensor = torch.ones(64, 64)  # what a failing step holds when memory runs out
        held.append(weakref.ref(step_tensor))
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with monkeypatch.context() as patch:
        patch.setattr(DiffEditorSampler, "sample", exhausted)
        patch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(held[0]() is None))
        with pytest.raises(OutOfMemory, match="try the 'medium' preset") as error:
            editor.edit(MoveEdit(image=image, mask=mask, offset=(8, 0), steps=2))
    assert "\n" not in str(error.value) and error.value.__context__ is None
    assert emptied == [True]  # the failed step's tensors were gone before the cache emptied
    assert not editor.cache and editor.controller.action is None
    result = editor.edit(MoveEdit(image=image, mask=mask, offset=(8, 0), steps=2))
    assert result.image.size == image.size


def test_prepare_reports_progress_and_can_be_cancelled(editor, scene):
    image, mask = scene
    tinted = type(image)(np.ascontiguousarray(image.rgb[:, ::-1]))  # not in the cache
    progress = []

    def on_prepare(done, total):
        progress.append((done, total))
        if done == 3:
            raise EditCancelled

    with pytest.raises(EditCancelled):
        editor.edit(
            MoveEdit(image=tinted, mask=mask, offset=(8, 0), steps=8), on_prepare=on_prepare
        )
    assert progress == [(1, 8), (2, 8), (3, 8)]
    assert editor.controller.action is None
    result = editor.edit(MoveEdit(image=tinted, mask=mask, offset=(8, 0), steps=8))
    assert not result.prepared_from_cache  # the cancelled prepare left nothing behind


@pytest.mark.parametrize("stop_at", [3, 12])  # in prepare (8 inversions), in sampling
def test_an_interrupt_lands_before_the_next_unet_call(editor, scene, stop_at):
    """Cancel is checked before every UNet call: prepare, guidance and time travel alike."""
    image, mask = scene
    fresh = type(image)(np.ascontiguousarray(image.rgb[::-1]))  # not in the prepare cache
    calls = []

    def interrupt():
        calls.append(editor.costs.unet_forward)
        if len(calls) == stop_at:
            raise EditCancelled

    request = MoveEdit(image=fresh, mask=mask, offset=(8, 0), steps=8)
    editor.costs.unet_forward = 0
    with pytest.raises(EditCancelled):
        editor.edit(request, interrupt=interrupt)
    assert len(calls) == stop_at and editor.costs.unet_forward == stop_at - 1
    assert editor.controller.action is None
    calls.clear()
    result = editor.edit(request)  # no interrupt: runs through, the editor is usable
    assert result.image.size == image.size and calls == []


def test_close_detaches_the_editor_so_refcounting_frees_the_model(tiny_model_dir):
    import gc
    import weakref

    from diffeditor_app.engine import Editor

    editor = Editor(load_model(ModelSpec(str(tiny_model_dir), device="cpu")))
    unet = weakref.ref(editor.model.unet)
    enabled = gc.isenabled()
    gc.disable()  # only reference counting may free it
    try:
        editor.close()
        del editor
        assert unet() is None
    finally:
        if enabled:
            gc.enable()


def test_one_editor_per_model(editor):
    from diffeditor_app.engine import Editor

    with pytest.raises(ValueError, match="already has an Editor"):
        Editor(editor.model)


def test_overrides_apply_on_top_of_the_model_defaults(editor, scene, monkeypatch):
    from diffeditor_app.engine.models.model import ModelProfile

    image, mask = scene
    profile = ModelProfile(
        feature_blocks=(1, 2),
        default_resolution=64,
        resolution_range=(64, 256),
        size_multiple=32,
        task_overrides={"move": {"w_edit": 7.0}},
    )
    monkeypatch.setattr(editor.model, "profile", profile)
    seen = []
    original = DiffEditorSampler.__init__

    def spy(self, unet, scheduler, extractor, controller, settings, costs):
        seen.append(settings)
        original(self, unet, scheduler, extractor, controller, settings, costs)

    monkeypatch.setattr(DiffEditorSampler, "__init__", spy)
    editor.edit(MoveEdit(image=image, mask=mask, offset=(8, 0), steps=2, overrides={"eta_in": 0.1}))
    assert (seen[0].w_edit, seen[0].eta_in) == (7.0, 0.1)
