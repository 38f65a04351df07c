"""The terms every task's energy is built from (ALGORITHM.md §7, §6.3); each task's
energy itself lives in its own module under engine/tasks/.

Symbols: F_gen = features of the latent being generated (with gradients), F_gud = features of
the inverted source latent at the same timestep (F_base in the two-image tasks), F_ref =
those of the inverted reference image. All arrive as one [C, cells] tensor per
feature level on the feature grid, cells in raster order. Every term has the form
w / (1 + 4 s); energies are minimised, so the guidance moves eps along +grad E.
Raw cosines are clamped at COS_FLOOR so that 1 + 4 s can never reach zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Levels = list[torch.Tensor]
COS_FLOOR = -0.2  # 1 + 4 * (-0.2) = 0.2 keeps every w / (1 + 4 s) finite


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity over channels of [C, n] tensors, one value per cell."""
    return F.cosine_similarity(a, b, dim=0).clamp_min(COS_FLOOR)


def similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(cos + 1) / 2: a similarity in [0.4, 1] after the floor."""
    return (cosine(a, b) + 1) / 2


def attract(weight: float, s: torch.Tensor) -> torch.Tensor:
    """w / (1 + 4 s): small when the similarity s is high."""
    return weight / (1 + 4 * s)


def two_image_content(
    gen: Levels, base: Levels, outside: torch.Tensor, w_content: float
) -> torch.Tensor:
    """E_content of the two-image tasks: sum_levels w / (1 + 4 mean_outside sim(F_gen, F_base))."""
    content = gen[0].new_zeros(())
    if outside.numel():
        for f_gen, f_base in zip(gen, base, strict=True):
            s = similarity(f_gen[:, outside], f_base[:, outside]).mean()
            content = content + attract(w_content, s)
    return content
