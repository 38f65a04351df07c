"""Per-step previews of the x0 estimate: decoded by the model's VAE, so the preview looks
like the result, or, where memory is short, a cheap linear map.

The VAE decode is throttled: a step's decode is skipped while the decodes so far have cost
more than a share (`budget`) of the sampling time, and the last step is always decoded; a
budget of 0 asks for no previews at all (the app's live previews off, a server client
that wants none).
On the toy and tiny models a decode is a few percent of a step, so every step is shown.

The fallback (the low and cpu-offload memory presets) is a linear map fitted to the image
being edited: [latent, 1] -> RGB by ridge least squares on the prepared image's own latent
and pixels. It works for any VAE and costs one small solve per prepare, but its colours are
only roughly right: a fixed table fits one VAE, and no linear map fits any VAE well.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

RIDGE = 1e-3  # keeps the solve stable on flat images


def fit_projection(latent: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """latent [1, C, h, w], rgb [1, 3, h, w] in [-1, 1] -> projection [C + 1, 3]."""
    x = latent[0].flatten(1).T.double()
    x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    y = rgb[0].flatten(1).T.double()
    gram = x.T @ x + RIDGE * x.shape[0] * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return torch.linalg.solve(gram, x.T @ y).float()


def project(latent: torch.Tensor, projection: torch.Tensor) -> np.ndarray:
    """latent [1, C, h, w] -> uint8 RGB [h, w, 3] preview."""
    x = latent[0].float().permute(1, 2, 0)
    rgb = x @ projection[:-1].to(x.device) + projection[-1].to(x.device)
    return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


class StepPreviews:
    """x0 -> the preview of one step (uint8 H x W x 3), or None for a step whose decode the
    throttle skips. `decode` (the VAE, working size) or, when it is None, the linear map
    `projection` (latent grid size). `budget` None decodes every step (the CLI), 0 none."""

    def __init__(
        self,
        decode: Callable[[torch.Tensor], np.ndarray] | None,
        projection: torch.Tensor,
        budget: float | None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.decode, self.projection, self.budget, self.clock = decode, projection, budget, clock
        self.started = clock()
        self.decode_s = 0.0

    def __call__(self, x0: torch.Tensor, step: int, total: int) -> np.ndarray | None:
        if self.budget == 0:
            return None
        if self.decode is None:
            return project(x0, self.projection)
        now = self.clock()
        sampling_s = now - self.started - self.decode_s
        last = step == total - 1
        if not last and self.budget is not None and self.decode_s > self.budget * sampling_s:
            return None
        image = self.decode(x0)
        self.decode_s += self.clock() - now
        return image
