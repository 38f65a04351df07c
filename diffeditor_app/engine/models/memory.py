"""GPU memory presets: what each one trades for memory, how `auto` picks one, where a model's
modules live, and the sentence an out-of-memory error becomes.

A preset is the name the user picks (Preferences > Performance > GPU memory); a `MemoryPlan`
is the concrete knobs behind it. The knobs change where tensors live and how many exist at
once, not what an edit computes (up to float rounding), with one exception: above the VAE's
native size (512 px for SD) tiling blends overlapping tiles, which shifts pixels slightly.

    high         everything on the GPU, nothing traded (16 GB and more)
    medium       VAE in slices and tiles, guidance pass recomputed in backward (10-12 GB)
    low          + memory bank in pinned host memory, chunked attention, 512 px default (6-8 GB)
    cpu-offload  + text encoder, UNet and CLIP tower on the GPU only while they run (4 GB)
"""

from __future__ import annotations

import enum
import gc
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from diffeditor_app.engine.errors import InvalidInput

GIB = 1024**3


class VramPreset(str, enum.Enum):
    AUTO = "auto"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    CPU_OFFLOAD = "cpu-offload"


@dataclass(frozen=True)
class MemoryPlan:
    """The knobs of one preset; `preset` is always a concrete one, never AUTO."""

    preset: VramPreset
    vae_slicing: bool = False  # VAE encodes a batch one image at a time (two-image prepare)
    vae_tiling: bool = False  # VAE in overlapping tiles above its native size (512 px for SD)
    checkpoint_guidance: bool = False  # guidance pass: activations recomputed in backward
    bank_on_host: bool = False  # memory bank in pinned host memory, one step copied in per use
    attention_chunk: int | None = None  # query tokens per SDPA call; None: all at once
    resolution_cap: int | None = None  # the default working resolution is at most this
    offload_models: bool = False  # text encoder, UNet, CLIP tower on the GPU only while used
    linear_previews: bool = False  # live previews from the linear map, not VAE decodes
    automatic: bool = False  # chosen by `auto` from the free memory (the OOM sentence says so)


PLANS: dict[VramPreset, MemoryPlan] = {
    VramPreset.HIGH: MemoryPlan(VramPreset.HIGH),
    VramPreset.MEDIUM: MemoryPlan(
        VramPreset.MEDIUM, vae_slicing=True, vae_tiling=True, checkpoint_guidance=True
    ),
    VramPreset.LOW: MemoryPlan(
        VramPreset.LOW,
        vae_slicing=True,
        vae_tiling=True,
        checkpoint_guidance=True,
        bank_on_host=True,
        attention_chunk=1024,  # 1024 x 9216 scores per head at 768 px instead of 9216 x 9216
        resolution_cap=512,  # SD1.5's training size: half the latents of its 768 default
        linear_previews=True,  # a decode per step would need the VAE's activations on the card
    ),
    VramPreset.CPU_OFFLOAD: MemoryPlan(
        VramPreset.CPU_OFFLOAD,
        vae_slicing=True,
        vae_tiling=True,
        checkpoint_guidance=True,
        bank_on_host=True,
        attention_chunk=1024,
        resolution_cap=512,
        offload_models=True,
        linear_previews=True,
    ),
}

# The preset an out-of-memory error suggests next; on the CPU offloading cannot help.
NEXT_PRESET: dict[VramPreset, VramPreset | None] = {
    VramPreset.HIGH: VramPreset.MEDIUM,
    VramPreset.MEDIUM: VramPreset.LOW,
    VramPreset.LOW: VramPreset.CPU_OFFLOAD,
    VramPreset.CPU_OFFLOAD: None,
}


@dataclass(frozen=True)
class AutoRule:
    """Free GPU memory (before the model loads) that `auto` wants for each preset. The fp16
    weights take ~3.6 GB (UNet 1.7, CLIP tower 1.3, VAE 0.3, text encoder 0.25); a drag's
    memory bank ~1.2 GB at 512 px and ~2.8 GB at 768 px; the guidance backward ~1-3 GB."""

    high_gib: float = 14.0  # 768 px with nothing traded: 16 GB cards and up
    medium_gib: float = 9.5  # 10-12 GB cards
    low_gib: float = 5.0  # 6-8 GB cards; below this only offloading fits


AUTO_RULE = AutoRule()


def choose_preset(free_bytes: int | None, rule: AutoRule = AUTO_RULE) -> VramPreset:
    """The preset `auto` stands for, from the device's free memory; None (the CPU, whose
    memory is the host's) trades nothing."""
    if free_bytes is None:
        return VramPreset.HIGH
    free_gib = free_bytes / GIB
    if free_gib >= rule.high_gib:
        return VramPreset.HIGH
    if free_gib >= rule.medium_gib:
        return VramPreset.MEDIUM
    if free_gib >= rule.low_gib:
        return VramPreset.LOW
    return VramPreset.CPU_OFFLOAD


def free_memory(device: torch.device) -> int | None:
    """Free bytes on a CUDA device (what other programs and we have not taken); None on
    devices without their own memory."""
    if device.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def memory_plan(name: str, device: torch.device) -> MemoryPlan:
    """The plan for a preset name as the settings hold it; `auto` measures the device now."""
    try:
        preset = VramPreset(name)
    except ValueError:
        names = ", ".join(p.value for p in VramPreset)
        raise InvalidInput(f"Unknown GPU memory preset '{name}'; use one of {names}.") from None
    if preset is not VramPreset.AUTO:
        return PLANS[preset]
    return replace(PLANS[choose_preset(free_memory(device))], automatic=True)


def out_of_memory_sentence(plan: MemoryPlan, device: torch.device) -> str:
    """What the user reads after running out of memory: which preset was in use and which
    one to try next (the dialog's path included), or the resolution when none is left."""
    on_gpu = device.type == "cuda"
    where = "The GPU" if on_gpu else "The computer"
    how = " (chosen automatically)" if plan.automatic else ""
    following = NEXT_PRESET[plan.preset]
    if following is VramPreset.CPU_OFFLOAD and not on_gpu:
        following = None
    if following is None:
        return (
            f"{where} ran out of memory even with the '{plan.preset.value}' GPU memory "
            f"preset{how}; try a lower working resolution or a smaller image."
        )
    return (
        f"{where} ran out of memory with the '{plan.preset.value}' GPU memory preset{how}; "
        f"try the '{following.value}' preset (Preferences > Performance > GPU memory) or a "
        "lower working resolution."
    )


def release_memory() -> None:
    """Give freed tensors back to the device: collect the reference cycles that still hold
    them, then empty the CUDA allocator's cache (a no-op when CUDA was never used)."""
    gc.collect()
    torch.cuda.empty_cache()


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on a CUDA device, so a timer around it measures that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ModelOffload:
    """One large module on the GPU at a time, as diffusers' `enable_model_cpu_offload`: each
    waits in host memory and moves in when its forward starts, sending the previous one out;
    tensor arguments follow it, so callers need not know where it is."""

    def __init__(self, device: torch.device, modules: list[nn.Module]) -> None:
        self.device = device
        self.active: nn.Module | None = None
        for module in modules:
            module.to("cpu")
            module.register_forward_pre_hook(self._enter, with_kwargs=True)

    def _enter(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self.active is not module:
            if self.active is not None:
                self.active.to("cpu")
            module.to(self.device)
            self.active = module
        return _to(args, self.device), _to(kwargs, self.device)


def _to(value: Any, device: torch.device) -> Any:
    """Tensors anywhere in nested tuples, lists and dicts, moved to `device`."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value
