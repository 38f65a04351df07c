"""The DiffEditor image prompt (paper 3.3, ALGORITHM.md §5): CLIP vision features -> resampler
-> image tokens c_im, fed through a decoupled cross-attention branch on every `attn2`:

    out = Attn(Q, K_text, V_text) + gamma * Attn(Q, W'_k c_im, W'_v c_im)      (paper Eq. 5)

Own modules rather than diffusers' IP-Adapter classes, because the public checkpoint must
load with strict=True as it is: diffusers' `IPAdapterPlusImageProjection` names its weights
differently (ln0/ln1/attn/ff, converted on load) and its `IPAdapterAttnProcessor2_0` keeps
`to_k_ip` in a ModuleList (`1.to_k_ip.0.weight`), so neither matches the public key layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from diffeditor_app.engine.method.attention import chunk_of, finish, multi_head

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP pixel normalisation
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PRE_RESIZE = 256  # the image is first resized to 256 x 256 (ALGORITHM.md §5.1)
HEAD_WIDTH = 64  # resampler attention: heads of 64 channels (12 heads at width 768)


@dataclass(frozen=True)
class ResamplerConfig:
    """Shapes of the resampler; `from_state_dict` reads them off a checkpoint."""

    embedding_dim: int = 1280  # CLIP vision hidden size (ViT-H/14)
    dim: int = 768  # resampler width
    depth: int = 4  # perceiver blocks (the paper says 8, the released checkpoint has 4)
    num_queries: int = 64  # image tokens per image
    output_dim: int = 768  # the UNet's cross-attention width
    ff_mult: int = 4  # feed-forward expansion

    @property
    def heads(self) -> int:
        return max(1, self.dim // HEAD_WIDTH)

    @classmethod
    def from_state_dict(cls, image_proj: dict[str, torch.Tensor]) -> ResamplerConfig:
        depth = len({key.split(".")[1] for key in image_proj if key.startswith("layers.")})
        return cls(
            embedding_dim=image_proj["proj_in.weight"].shape[1],
            dim=image_proj["proj_in.weight"].shape[0],
            depth=depth,
            num_queries=image_proj["latents"].shape[1],
            output_dim=image_proj["proj_out.weight"].shape[0]
            if "proj_out.weight" in image_proj
            else cls.output_dim,
            ff_mult=image_proj["layers.0.1.1.weight"].shape[0] // image_proj["latents"].shape[2],
        )


class PerceiverAttention(nn.Module):
    """Queries attend to concat(image tokens, queries); LayerNorms on each side."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)  # on the image features
        self.norm2 = nn.LayerNorm(dim)  # on the queries
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, features: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        features, queries = self.norm1(features), self.norm2(queries)
        batch, length, dim = queries.shape

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, -1, self.heads, dim // self.heads).transpose(1, 2)

        key, value = self.to_kv(torch.cat([features, queries], dim=1)).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(split(self.to_q(queries)), split(key), split(value))
        return self.to_out(out.transpose(1, 2).reshape(batch, length, dim))


def feed_forward(dim: int, mult: int) -> nn.Sequential:
    """LayerNorm, Linear (no bias), GELU, Linear (no bias): keys 0, 1, 3 of the layout."""
    return nn.Sequential(
        nn.LayerNorm(dim),
        nn.Linear(dim, dim * mult, bias=False),
        nn.GELU(),
        nn.Linear(dim * mult, dim, bias=False),
    )


class Resampler(nn.Module):
    """CLIP tokens -> `num_queries` image tokens of the UNet's cross-attention width."""

    def __init__(self, config: ResamplerConfig) -> None:
        super().__init__()
        self.config = config
        self.latents = nn.Parameter(
            torch.randn(1, config.num_queries, config.dim) / config.dim**0.5
        )
        self.proj_in = nn.Linear(config.embedding_dim, config.dim)
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PerceiverAttention(config.dim, config.heads),
                    feed_forward(config.dim, config.ff_mult),
                ]
            )
            for _ in range(config.depth)
        )
        self.proj_out = nn.Linear(config.dim, config.output_dim)
        self.norm_out = nn.LayerNorm(config.output_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        queries = self.latents.expand(features.shape[0], -1, -1)
        features = self.proj_in(features)
        for attention, ff in self.layers:
            queries = attention(features, queries) + queries
            queries = ff(queries) + queries
        return self.norm_out(self.proj_out(queries))


class ImagePromptController:
    """The image tokens and gamma every decoupled processor reads; None or 0 = branch off."""

    def __init__(self) -> None:
        self.tokens: torch.Tensor | None = None  # [batch, n, cross_dim], batch as the UNet's
        self.scale: float = 0.0

    @contextmanager
    def active(self, tokens: torch.Tensor, scale: float) -> Iterator[None]:
        self.tokens, self.scale = tokens, scale
        try:
            yield
        finally:
            self.tokens, self.scale = None, 0.0


class ImagePromptAttnProcessor(nn.Module):
    """Cross-attention with the decoupled image branch (paper Eq. 5). Text tokens go only to
    the text K/V; the image tokens come from the controller, never from the text input."""

    def __init__(
        self,
        hidden_size: int,
        cross_dim: int,
        controller: ImagePromptController,
        chunk: int | None = None,
    ) -> None:
        super().__init__()
        self.to_k_ip = nn.Linear(cross_dim, hidden_size, bias=False)
        self.to_v_ip = nn.Linear(cross_dim, hidden_size, bias=False)
        self.controller = controller
        self.chunk = chunk  # query tokens per SDPA call; None: all at once

    def forward(
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
        tokens, gamma = self.controller.tokens, self.controller.scale
        if tokens is not None and gamma != 0:
            tokens = tokens.to(hidden_states.dtype)
            image = multi_head(attn, query, self.to_k_ip(tokens), self.to_v_ip(tokens), self.chunk)
            out = out + gamma * image
        return finish(attn, out, hidden_states)


def install_image_prompt(unet, controller: ImagePromptController) -> nn.ModuleList:
    """Decoupled processors on every `attn2`; returns the ModuleList whose state_dict has the
    public `ip_adapter` layout (`1.to_k_ip.weight`, ...: one slot per attention processor in
    the UNet's order, the self-attention slots holding no weights)."""
    cross_dim = unet.config.cross_attention_dim
    processors = dict(unet.attn_processors)
    slots = []
    for name, processor in processors.items():
        if name.endswith("attn2.processor"):
            attention = unet.get_submodule(name.removesuffix(".processor"))
            processor = ImagePromptAttnProcessor(
                attention.to_q.out_features, cross_dim, controller, chunk_of(processor)
            )
            processor.to(device=attention.to_q.weight.device, dtype=attention.to_q.weight.dtype)
            processors[name] = processor
            slots.append(processor)
        else:
            slots.append(processor if isinstance(processor, nn.Module) else nn.Module())
    unet.set_attn_processor(processors)
    return nn.ModuleList(slots)


def clip_pixels(rgb: np.ndarray, size: int) -> torch.Tensor:
    """ALGORITHM.md §5.1: resize to 256 x 256, then CLIP's shortest-side resize and centre crop
    to `size` (224 for ViT-H/14), normalised: [1, 3, size, size]."""
    image = Image.fromarray(rgb).convert("RGB")  # as CLIP's processor: RGBA, grey -> RGB
    image = image.resize((PRE_RESIZE, PRE_RESIZE), Image.BICUBIC)
    image = image.resize((size, size), Image.BICUBIC)  # square in, so resize = resize + crop
    pixels = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(CLIP_MEAN)[:, None, None]
    std = torch.tensor(CLIP_STD)[:, None, None]
    return ((pixels - mean) / std)[None]


def clip_features(vision: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """Normalised CLIP pixels -> the penultimate hidden states the resampler reads."""
    output = vision(pixels.to(vision.device, vision.dtype), output_hidden_states=True)
    return output.hidden_states[-2]


@dataclass(eq=False)
class ImagePromptEncoder:
    """CLIP vision tower + resampler: images -> image tokens (and the unconditional tokens)."""

    vision: nn.Module  # CLIPVisionModelWithProjection
    resampler: Resampler

    @property
    def image_size(self) -> int:
        return int(self.vision.config.image_size)

    def tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised CLIP pixels [B, 3, S, S] -> image tokens [B, num_queries, cross_dim]."""
        hidden = clip_features(self.vision, pixels)
        return self.resampler(hidden.to(self.resampler.proj_in.weight.dtype))

    def encode(self, rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens of the image, unconditional tokens of an all-zero normalised pixel tensor)."""
        pixels = clip_pixels(rgb, self.image_size)
        both = self.tokens(torch.cat([pixels, torch.zeros_like(pixels)]))
        return both[:1], both[1:]


@dataclass(eq=False)
class ImagePrompt:
    """Everything the editor needs to use image prompts with one model."""

    encoder: ImagePromptEncoder
    controller: ImagePromptController
    adapter: nn.ModuleList  # the decoupled processors, in the public `ip_adapter` layout
