"""Attention processors: the memory bank (visual cross-attention, ALGORITHM.md §3.4, §7.5).

During prepare, the self-attention layers of the UNet decoder record the projected keys and
values of the source image per sampling step; during sampling they read them back, either
replacing the current K/V (move) or appended to them (drag). One `BankController` drives
every processor, so the sampler switches modes in one place and no UNet is forked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from diffeditor_app.engine.settings import BankMode

KV = tuple[torch.Tensor, torch.Tensor]


@dataclass
class MemoryBank:
    """Stored self-attention K/V of the source image: step -> layer name -> (K, V).

    On the device by default (no copies inside the sampling loop). With `host` the bank waits
    in pinned host memory and each injection copies one step's K/V in without blocking the
    CPU: the `low` memory preset, for cards where ~3 GB of bank per image does not fit."""

    steps: dict[int, dict[str, KV]] = field(default_factory=dict)
    host: bool = False  # keep the stored K/V in host memory

    def store(self, step: int, layer: str, key: torch.Tensor, value: torch.Tensor) -> None:
        key, value = key.detach(), value.detach()
        if self.host:
            key, value = to_host(key), to_host(value)
        self.steps.setdefault(step, {})[layer] = (key, value)

    def nbytes(self) -> int:
        return sum(
            k.numel() * k.element_size() + v.numel() * v.element_size()
            for layers in self.steps.values()
            for k, v in layers.values()
        )


def to_host(tensor: torch.Tensor) -> torch.Tensor:
    """A host copy; pinned and asynchronous from a GPU, so the copy back in can be too."""
    if tensor.device.type == "cpu":
        return tensor
    pinned = torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu", pin_memory=True)
    return pinned.copy_(tensor, non_blocking=True)


@dataclass
class _Recording:
    bank: MemoryBank
    step: int


@dataclass
class TokenMasks:
    """The masked two-image bank (appearance, paste) keeps the base tokens outside the base
    object and the reference tokens inside the reference object. Objects are given on the
    latent grid and max-pooled to each layer's token grid, so an object always claims every
    token it touches and a non-empty object keeps at least one (ALGORITHM.md §7.5)."""

    base_object: torch.Tensor  # [h, w] bool on the latent grid
    ref_object: torch.Tensor  # [h, w] bool on the latent grid
    _cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def indices(self, tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token indices (base kept, reference kept) for a layer with `tokens` tokens."""
        if tokens not in self._cache:
            rows, cols = self.base_object.shape
            factor = round((rows * cols / tokens) ** 0.5)
            if (rows // factor) * (cols // factor) != tokens:
                raise ValueError(f"{tokens} tokens do not tile a {rows}x{cols} latent grid")

            def touched(mask: torch.Tensor) -> torch.Tensor:
                return F.max_pool2d(mask[None, None].float(), factor)[0, 0].flatten() > 0

            self._cache[tokens] = (
                (~touched(self.base_object)).nonzero().flatten(),
                touched(self.ref_object).nonzero().flatten(),
            )
        return self._cache[tokens]


@dataclass
class _Injection:
    layers: dict[str, KV]
    mode: BankMode
    masks: TokenMasks | None = None


class BankController:
    """The one switch every bank processor reads: idle, recording or injecting."""

    def __init__(self) -> None:
        self.action: _Recording | _Injection | None = None

    @contextmanager
    def recording(self, bank: MemoryBank, step: int) -> Iterator[None]:
        self.action = _Recording(bank, step)
        try:
            yield
        finally:
            self.action = None

    @contextmanager
    def injecting(
        self, bank: MemoryBank, step: int, mode: BankMode, masks: TokenMasks | None = None
    ) -> Iterator[None]:
        if mode is BankMode.MASKED and masks is None:
            raise ValueError("the masked two-image bank needs token masks")
        self.action = _Injection(bank.steps[step], mode, masks)
        try:
            yield
        finally:
            self.action = None


def multi_head(
    attn,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    chunk: int | None = None,
) -> torch.Tensor:
    """Scaled-dot-product attention over the layer's heads: [B, N, C] in and out.

    With `chunk`, at most that many query tokens go through SDPA at once: each query row's
    softmax is independent, so the result is the same, and where SDPA falls back to its math
    kernel (which holds the whole N x M score matrix) the peak shrinks by N / chunk."""
    batch, heads = query.shape[0], attn.heads
    head_dim = query.shape[-1] // heads

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.view(batch, -1, heads, head_dim).transpose(1, 2)

    q, k, v = split(query), split(key), split(value)
    if chunk is None or q.shape[2] <= chunk:
        out = F.scaled_dot_product_attention(q, k, v)
    else:
        parts = [F.scaled_dot_product_attention(part, k, v) for part in q.split(chunk, dim=2)]
        out = torch.cat(parts, dim=2)
    return out.transpose(1, 2).reshape(batch, -1, heads * head_dim).to(query.dtype)


def finish(attn, out: torch.Tensor, hidden_states: torch.Tensor) -> torch.Tensor:
    """The layer's output projection, residual and rescaling, as diffusers' processors do."""
    out = attn.to_out[1](attn.to_out[0](out))
    if attn.residual_connection:
        out = out + hidden_states
    return out / attn.rescale_output_factor


class SdpaAttnProcessor:
    """Plain attention through `multi_head`, for the layers no bank or image prompt touches
    once a query chunk is set (SD1.x layers: no norms, masks or residual inside)."""

    def __init__(self, chunk: int | None = None) -> None:
        self.chunk = chunk  # query tokens per SDPA call; None: all at once

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        query = attn.to_q(hidden_states)
        out = multi_head(attn, query, attn.to_k(context), attn.to_v(context), self.chunk)
        return finish(attn, out, hidden_states)


def set_attention_chunk(unet, chunk: int | None) -> None:
    """Give every attention layer of `unet` the query chunk; with a chunk, layers still on
    diffusers' processor get `SdpaAttnProcessor`, since only ours know how to chunk."""
    processors = dict(unet.attn_processors)
    plain = SdpaAttnProcessor(chunk)
    for name, processor in processors.items():
        if hasattr(processor, "chunk"):
            processor.chunk = chunk
        elif chunk is not None:
            processors[name] = plain
    unet.set_attn_processor(processors)


def chunk_of(processor) -> int | None:
    """The query chunk of a processor being replaced, for its replacement to keep."""
    return getattr(processor, "chunk", None)


class BankAttnProcessor:
    """Scaled-dot-product self-attention that records or injects memory-bank K/V."""

    def __init__(self, layer: str, controller: BankController, chunk: int | None = None) -> None:
        self.layer = layer
        self.controller = controller
        self.chunk = chunk  # query tokens per SDPA call; None: all at once

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        query = attn.to_q(hidden_states)
        key = attn.to_k(hidden_states)
        value = attn.to_v(hidden_states)
        action = self.controller.action
        if isinstance(action, _Recording):
            action.bank.store(action.step, self.layer, key, value)
        elif isinstance(action, _Injection):
            key, value = self.injected(action, key, value)
        return finish(attn, multi_head(attn, query, key, value, self.chunk), hidden_states)

    def injected(self, action: _Injection, key: torch.Tensor, value: torch.Tensor) -> KV:
        """The K/V the current tokens attend to, by bank mode; every image of the batch (both
        CFG halves) sees the same stored tokens."""
        stored_k, stored_v = action.layers[self.layer]
        stored_k, stored_v = (  # from a host bank: queued on the stream, the CPU runs on
            stored_k.to(key.device, key.dtype, non_blocking=True),
            stored_v.to(value.device, value.dtype, non_blocking=True),
        )
        if action.mode is BankMode.MASKED:
            base, ref = action.masks.indices(stored_k.shape[1])
            stored_k = torch.cat([stored_k[0:1, base], stored_k[1:2, ref]], dim=1)
            stored_v = torch.cat([stored_v[0:1, base], stored_v[1:2, ref]], dim=1)
        batch = key.shape[0]
        stored_k = stored_k[:1].expand(batch, -1, -1)
        stored_v = stored_v[:1].expand(batch, -1, -1)
        if action.mode is BankMode.CONCAT:
            return torch.cat([key, stored_k], dim=1), torch.cat([value, stored_v], dim=1)
        return stored_k, stored_v


def install_bank(unet, controller: BankController) -> list[str]:
    """Put bank processors on every decoder self-attention (SD1.5: the 9 of up_blocks[1..3]);
    return their layer names."""
    processors = dict(unet.attn_processors)
    layers = [
        name
        for name in processors
        if name.startswith("up_blocks.") and name.endswith("attn1.processor")
    ]
    for name in layers:
        processors[name] = BankAttnProcessor(name, controller, chunk_of(processors[name]))
    unet.set_attn_processor(processors)
    return layers
