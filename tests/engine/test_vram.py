"""GPU memory presets: `auto` from fake free-memory numbers, the knobs of each preset, and that
no knob changes what an edit computes (chunked attention, recomputed guidance, host bank);
the out-of-memory sentence names the next preset; model offload moves one module at a time."""

from __future__ import annotations

import itertools
from dataclasses import fields, replace

import numpy as np
import pytest
import torch
from torch import nn

from diffeditor_app.engine import Editor, ModelSpec, load_model
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.method.attention import (
    BankAttnProcessor,
    MemoryBank,
    SdpaAttnProcessor,
    multi_head,
    set_attention_chunk,
)
from diffeditor_app.engine.method.image_prompt import ImagePromptAttnProcessor
from diffeditor_app.engine.models.loading import resolve_dtype
from diffeditor_app.engine.models.memory import (
    GIB,
    NEXT_PRESET,
    PLANS,
    AutoRule,
    MemoryPlan,
    ModelOffload,
    VramPreset,
    choose_preset,
    memory_plan,
    out_of_memory_sentence,
)
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.tasks.move import MoveEdit

CUDA = torch.device("cuda")
CPU = torch.device("cpu")


# -- auto: a pure function of the free memory ------------------------------------------------


@pytest.mark.parametrize(
    ("free_gib", "preset"),
    [
        (79.0, VramPreset.HIGH),  # an H100
        (22.5, VramPreset.HIGH),  # a 24 GB card with the desktop on it
        (14.0, VramPreset.HIGH),
        (13.9, VramPreset.MEDIUM),
        (11.2, VramPreset.MEDIUM),  # a 12 GB card
        (9.5, VramPreset.MEDIUM),
        (7.3, VramPreset.LOW),  # an 8 GB card
        (5.0, VramPreset.LOW),
        (4.9, VramPreset.CPU_OFFLOAD),
        (3.1, VramPreset.CPU_OFFLOAD),  # a 4 GB laptop GPU
    ],
)
def test_auto_picks_a_preset_from_the_free_memory(free_gib, preset):
    assert choose_preset(int(free_gib * GIB)) is preset


def test_auto_on_a_device_without_its_own_memory_trades_nothing():
    assert choose_preset(None) is VramPreset.HIGH


def test_auto_follows_its_rule():
    rule = AutoRule(high_gib=40.0, medium_gib=20.0, low_gib=10.0)
    assert choose_preset(30 * GIB, rule) is VramPreset.MEDIUM
    assert choose_preset(9 * GIB, rule) is VramPreset.CPU_OFFLOAD


def test_auto_measures_the_device_now(monkeypatch):
    measured = []

    def mem_get_info(device):
        measured.append(device)
        return 7 * GIB, 8 * GIB

    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    plan = memory_plan("auto", CUDA)
    assert measured == [CUDA]
    assert plan == replace(PLANS[VramPreset.LOW], automatic=True)
    assert memory_plan("medium", CUDA) == PLANS[VramPreset.MEDIUM]
    assert len(measured) == 1  # a named preset measures nothing


def test_an_unknown_preset_is_a_sentence_listing_the_presets():
    with pytest.raises(InvalidInput, match="'huge'; use one of auto, high, medium, low, cpu-off"):
        memory_plan("huge", CPU)


# -- what each preset trades -----------------------------------------------------------------


def test_each_preset_trades_at_least_what_the_one_above_trades():
    ladder = [VramPreset.HIGH, VramPreset.MEDIUM, VramPreset.LOW, VramPreset.CPU_OFFLOAD]
    assert [NEXT_PRESET[p] for p in ladder] == [*ladder[1:], None]
    assert set(PLANS) == set(ladder) and all(PLANS[p].preset is p for p in ladder)
    assert PLANS[VramPreset.HIGH] == MemoryPlan(VramPreset.HIGH)  # nothing traded
    switches = [f.name for f in fields(PLANS[VramPreset.HIGH]) if f.type == "bool"]
    for upper, lower in itertools.pairwise(ladder):
        for name in switches:
            assert getattr(PLANS[lower], name) >= getattr(PLANS[upper], name), (lower, name)
    low = PLANS[VramPreset.LOW]
    assert low.bank_on_host and low.checkpoint_guidance and low.vae_tiling and low.vae_slicing
    assert low.attention_chunk and low.resolution_cap == 512
    assert PLANS[VramPreset.CPU_OFFLOAD].offload_models and not low.offload_models


def test_fp16_is_the_gpu_default_and_bf16_needs_a_gpu_that_has_it(monkeypatch):
    assert resolve_dtype("auto", CUDA) is torch.float16
    assert resolve_dtype("auto", CPU) is torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_dtype("bf16", CUDA) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    with pytest.raises(InvalidInput, match="no bf16 support"):
        resolve_dtype("bf16", CUDA)


# -- the out-of-memory sentence --------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "device", "advice"),
    [
        (VramPreset.HIGH, CUDA, "try the 'medium' preset (Preferences > Performance > GPU memory)"),
        (VramPreset.MEDIUM, CUDA, "try the 'low' preset"),
        (VramPreset.LOW, CUDA, "try the 'cpu-offload' preset"),
        (VramPreset.CPU_OFFLOAD, CUDA, "even with the 'cpu-offload' GPU memory preset; try"),
        (VramPreset.LOW, CPU, "even with the 'low' GPU memory preset; try a lower"),
    ],
)
def test_out_of_memory_names_the_preset_to_try(preset, device, advice):
    sentence = out_of_memory_sentence(PLANS[preset], device)
    assert advice in sentence and sentence.count(".") == 1 and sentence.endswith(".")
    assert sentence.startswith("The GPU" if device.type == "cuda" else "The computer")


def test_out_of_memory_says_when_auto_chose_the_preset():
    plan = replace(PLANS[VramPreset.HIGH], automatic=True)
    assert "'high' GPU memory preset (chosen automatically); try the 'medium'" in (
        out_of_memory_sentence(plan, CUDA)
    )


# -- no knob changes the arithmetic ----------------------------------------------------------


class _Heads:
    heads = 4


def test_chunked_attention_equals_attention_in_one_go():
    torch.manual_seed(0)
    query, key, value = torch.randn(2, 37, 32), torch.randn(2, 53, 32), torch.randn(2, 53, 32)
    whole = multi_head(_Heads, query, key, value)
    for chunk in (1, 8, 36, 37, 100):
        torch.testing.assert_close(multi_head(_Heads, query, key, value, chunk), whole)


@pytest.fixture(scope="module")
def low_model(tiny_model_dir):
    """The tiny model loaded with the `low` preset: its own copy, its own editor."""
    model = load_model(ModelSpec(str(tiny_model_dir), device="cpu", vram_preset="low"))
    return model, Editor(model)


def test_low_switches_every_memory_saver_on(low_model):
    model, _ = low_model
    plan = model.memory
    assert plan == PLANS[VramPreset.LOW]
    assert model.vae.use_slicing and model.vae.use_tiling
    assert model.unet.is_gradient_checkpointing
    processors = model.unet.attn_processors
    kinds = {type(p) for p in processors.values()}
    assert kinds == {SdpaAttnProcessor, BankAttnProcessor, ImagePromptAttnProcessor}
    assert all(p.chunk == plan.attention_chunk for p in processors.values())


def test_the_default_preset_on_the_cpu_trades_nothing(tiny_model):
    from diffusers.models.attention_processor import AttnProcessor2_0

    assert tiny_model.memory == replace(PLANS[VramPreset.HIGH], automatic=True)
    assert not tiny_model.vae.use_tiling and not tiny_model.unet.is_gradient_checkpointing
    assert any(isinstance(p, AttnProcessor2_0) for p in tiny_model.unet.attn_processors.values())


def test_chunked_processors_compute_what_diffusers_computes(tiny_model_dir):
    model = load_model(ModelSpec(str(tiny_model_dir), device="cpu", image_prompt="none"))
    z, text = torch.randn(2, 4, 16, 16), torch.randn(2, 77, 32)
    with torch.no_grad():
        plain = model.unet(z, 500, encoder_hidden_states=text).sample
        set_attention_chunk(model.unet, 16)  # the 16 x 16 latent grid: 256 tokens, 16 chunks
        chunked = model.unet(z, 500, encoder_hidden_states=text).sample
    torch.testing.assert_close(chunked, plain, rtol=1e-4, atol=1e-5)


def test_the_guidance_pass_is_recomputed_in_backward_with_the_same_gradient(low_model, editor):
    """Checkpointing starts a decoder resnet twice in a guidance pass (forward, recompute) and
    gives the gradient of the plain pass."""
    _, low_editor = low_model
    torch.manual_seed(1)
    z, text = torch.randn(1, 4, 16, 16), torch.randn(1, 77, 32)

    def guidance_pass(some_editor: Editor) -> tuple[torch.Tensor, int]:
        calls = []
        resnet = some_editor.model.unet.up_blocks[1].resnets[0]
        handle = resnet.register_forward_pre_hook(lambda *args: calls.append(1))
        try:
            latent = z.clone().requires_grad_(True)
            features = some_editor.extractor(latent, 500, text)
            (grad,) = torch.autograd.grad(sum(f.square().mean() for f in features), latent)
        finally:
            handle.remove()
        return grad, len(calls)

    recomputed, low_calls = guidance_pass(low_editor)
    plain, plain_calls = guidance_pass(editor)
    assert (plain_calls, low_calls) == (1, 2)
    torch.testing.assert_close(recomputed, plain, rtol=1e-4, atol=1e-6)


def test_an_edit_with_the_low_preset_matches_one_with_nothing_traded(low_model, editor):
    _, low_editor = low_model
    image, mask = square_scene(96, 64)
    request = MoveEdit(image=image, mask=mask, offset=(12, 4), steps=6, raw=True)
    low = low_editor.edit(request)
    high = editor.edit(request)
    assert (low.unet_forward, low.unet_backward) == (high.unet_forward, high.unet_backward)
    difference = np.abs(np.asarray(low.image, float) - np.asarray(high.image, float))
    assert difference.max() <= 1.0  # rounding of the chunked and recomputed float32 paths
    bank = next(iter(low_editor.cache.values())).bank
    assert bank.host and bank.nbytes() > 0
    assert all(k.device.type == "cpu" for layers in bank.steps.values() for k, _ in layers.values())


def test_low_lowers_the_default_resolution_within_the_profile(low_model, monkeypatch):
    model, low_editor = low_model
    assert low_editor.default_resolution() == 64  # the tiny profile's 64 is already below 512
    monkeypatch.setattr(model, "profile", replace(model.profile, default_resolution=256))
    monkeypatch.setattr(model, "memory", replace(model.memory, resolution_cap=128))
    assert low_editor.default_resolution() == 128
    monkeypatch.setattr(model, "memory", replace(model.memory, resolution_cap=32))
    assert low_editor.default_resolution() == 64  # never below the profile's range


def test_a_host_bank_on_the_cpu_keeps_the_tensors_it_is_given():
    bank = MemoryBank(host=True)
    key, value = torch.ones(1, 4, 8), torch.zeros(1, 4, 8)
    bank.store(3, "layer", key, value)
    assert bank.steps[3]["layer"][0] is not None and bank.nbytes() == 2 * 32 * 4


# -- offload ---------------------------------------------------------------------------------


class _Spy(nn.Module):
    """A module that records where it is sent (without going) and hands back its input."""

    def __init__(self, name: str, moves: list[tuple[str, str]]) -> None:
        super().__init__()
        self.name, self.moves = name, moves

    def to(self, device, *args, **kwargs):
        self.moves.append((self.name, str(device)))
        return self

    def forward(self, x: torch.Tensor | None = None, *, extra: torch.Tensor | None = None):
        return x if extra is None else extra


def test_offload_keeps_one_module_on_the_device_and_brings_its_inputs():
    moves: list[tuple[str, str]] = []
    text, unet = _Spy("text", moves), _Spy("unet", moves)
    offload = ModelOffload(torch.device("meta"), [text, unet])
    assert moves == [("text", "cpu"), ("unet", "cpu")]  # both wait in host memory
    moves.clear()
    assert text(torch.ones(2)).device.type == "meta"  # its input followed it
    assert unet(extra=torch.ones(2)).device.type == "meta"  # keyword tensors too
    unet(torch.ones(2))  # already there: nothing moves
    text(torch.ones(2))
    assert moves == [
        ("text", "meta"),
        ("text", "cpu"),
        ("unet", "meta"),
        ("unet", "cpu"),
        ("text", "meta"),
    ]
    assert offload.active is text


def test_compiling_the_unet_is_asked_for_by_the_spec(tiny_model_dir, monkeypatch):
    compiled = []
    monkeypatch.setattr(nn.Module, "compile", lambda self, *a, **k: compiled.append(self))
    model = load_model(ModelSpec(str(tiny_model_dir), device="cpu", compile_unet=True))
    assert compiled == [model.unet]
