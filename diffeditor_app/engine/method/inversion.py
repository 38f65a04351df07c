"""The prepare stage (ALGORITHM.md §3): encode, DDIM-invert, record the memory bank.

Everything here depends only on (image, prompt, model, resolution, steps), so the editor
caches the result and a second edit of the same image skips this stage entirely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from diffeditor_app.engine.imaging.geometry import Frame, Letterbox
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.method.attention import BankController, MemoryBank
from diffeditor_app.engine.method.preview import fit_projection
from diffeditor_app.engine.method.sampler import renoise


@dataclass
class Prepared:
    """The cached result of prepare for one image."""

    key: tuple
    frame: Frame
    timesteps: list[int]  # sampling order, noisiest first
    latents: list[torch.Tensor]  # latents[i] at timesteps[i]; latents[-1] is z_0
    text: torch.Tensor  # [images, L, D]: one prompt embedding per image
    uncond: torch.Tensor
    bank: MemoryBank
    projection: torch.Tensor  # latent -> RGB preview map
    image_tokens: torch.Tensor | None = None  # [2, n, D]: unconditional and image tokens
    prepare_s: float = 0.0
    features: dict[int, list[torch.Tensor]] = field(default_factory=dict)  # F_gud per step


@dataclass(frozen=True, eq=False)
class PrepareSources:
    """What prepare inverts: the base image and, for the two-image tasks, the reference,
    fitted into the base's working frame by a letterbox."""

    images: tuple[SourceImage, ...]  # base first
    prompts: tuple[str, ...]  # one per image
    letterbox: Letterbox | None = None  # how the reference sits in the working frame

    def working(self, frame: Frame) -> list[np.ndarray]:
        """Each image at the working size (Lanczos)."""
        size = (frame.work_width, frame.work_height)
        base = np.asarray(Image.fromarray(self.images[0].rgb).resize(size, Image.LANCZOS))
        return [base, *(self.letterbox.image(image.rgb) for image in self.images[1:])]


def working_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 H x W x 3 -> [1, 3, H, W] in [-1, 1]."""
    pixels = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].float()
    return (pixels / 127.5 - 1.0).to(device)


def encode_prompt(tokenizer, text_encoder, prompt: str, device: torch.device) -> torch.Tensor:
    tokens = tokenizer(
        prompt,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    )
    return text_encoder(tokens.input_ids.to(device))[0]


def invert(
    unet,
    controller: BankController,
    z0: torch.Tensor,
    text: torch.Tensor,
    timesteps: list[int],
    alpha: list[float],
    final_alpha: float,
    bank_steps: frozenset[int],
    bank: MemoryBank,
    on_step: Callable[[int, int], None] | None = None,
) -> list[torch.Tensor]:
    """DDIM inversion from z_0 to z_T, text-conditional only (no CFG, no image prompt).

    Step i evaluates the UNet at the target timestep t_i on the latent of the previous, less
    noisy level, and records the memory bank for sampling step i when asked to. `on_step`
    gets (done, total) after every step and may raise EditCancelled.
    """
    latents: list[torch.Tensor] = [z0] * (len(timesteps) + 1)
    z, a_from = z0, final_alpha
    for i in reversed(range(len(timesteps))):
        t = timesteps[i]
        if i in bank_steps:
            with controller.recording(bank, i):
                eps = unet(z, t, encoder_hidden_states=text).sample
        else:
            eps = unet(z, t, encoder_hidden_states=text).sample
        z = renoise(z, eps, a_from, alpha[t])
        latents[i] = z
        a_from = alpha[t]
        if on_step is not None:
            on_step(len(timesteps) - i, len(timesteps))
    return latents


def encode_image(vae, pixels: torch.Tensor, scale: float) -> torch.Tensor:
    """latent_dist.mean * scaling_factor (the mean, not a sample: deterministic)."""
    return vae.encode(pixels.to(vae.dtype)).latent_dist.mean * scale


def decode_latent(vae, latent: torch.Tensor, scale: float) -> np.ndarray:
    """z_0 -> uint8 RGB at the working size."""
    pixels = vae.decode(latent.to(vae.dtype) / scale).sample
    pixels = ((pixels[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(1, 2, 0).cpu().numpy()


def fit_preview(z0: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    small = torch.nn.functional.interpolate(pixels.float(), size=z0.shape[-2:], mode="area")
    return fit_projection(z0.float(), small)
