"""Cheap latent -> RGB previews: a linear map fitted to the image being edited.

A fixed projection table only fits one VAE; fitting [latent, 1] -> RGB by ridge least squares
on the prepared image's own latent and pixels works for any VAE (SD1.5, toy, tiny) and costs
one small solve per prepare instead of a VAE decode per step.
"""

from __future__ import annotations

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
