"""Edit plans: masks on each grid, energy, initial latent and compose region.

A plan turns a request (original pixels) into what the sampler needs (latent and feature
grids). Each task's planner lives in its module under engine/tasks/ and is built from the
pieces here; the sampler itself has no per-task branches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from diffeditor_app.engine.imaging.geometry import Frame, Letterbox, resize_mask
from diffeditor_app.engine.method.attention import TokenMasks
from diffeditor_app.engine.requests import EditRequest, ReferenceEdit
from diffeditor_app.engine.settings import TaskSettings

Energy = Callable[[list[torch.Tensor], list[torch.Tensor]], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class EditPlan:
    energy: Energy
    grad_mask: torch.Tensor  # [1, 1, h, w] on the latent grid: 1 takes the edit gradient
    sde_mask: torch.Tensor  # [1, 1, h, w]: 1 samples with eta_in
    initial_latent: Callable[[torch.Tensor], torch.Tensor]  # z_T of each image -> start
    region: np.ndarray  # original size: where the output may differ from the input
    notes: list[str] = field(default_factory=list)
    token_masks: TokenMasks | None = None  # the masked two-image memory bank
    letterbox: Letterbox | None = None  # how the reference sits in the working frame


def cells(mask: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.flatnonzero(mask)).to(device)


def latent_mask(mask: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(mask.astype(np.float32))[None, None].to(device)


def letterbox_for(request: ReferenceEdit, frame: Frame) -> Letterbox:
    return Letterbox.fit(
        request.reference.width, request.reference.height, frame.work_width, frame.work_height
    )


def ref_object(request: ReferenceEdit, box: Letterbox, shape: tuple[int, int]) -> np.ndarray:
    """The reference object on a grid over the working frame."""
    return resize_mask(box.mask(request.reference_mask), shape)


def token_masks(base_object: np.ndarray, reference: np.ndarray, device) -> TokenMasks:
    return TokenMasks(
        torch.from_numpy(base_object).to(device), torch.from_numpy(reference).to(device)
    )


Planner = Callable[[EditRequest, Frame, TaskSettings, torch.device], EditPlan]


def block_pairs(
    shape: tuple[int, int], handle: tuple[int, int], target: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Cells of the 3x3 target block paired with the same offsets in the handle block;
    offsets that leave the grid on either side are dropped (drag's and the face's pairs)."""
    targets, handles = [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            hc, hr, tc, tr = handle[0] + dx, handle[1] + dy, target[0] + dx, target[1] + dy
            if (
                0 <= hc < shape[1]
                and 0 <= tc < shape[1]
                and 0 <= hr < shape[0]
                and 0 <= tr < shape[0]
            ):
                handles.append(hr * shape[1] + hc)
                targets.append(tr * shape[1] + tc)
    return np.array(targets, dtype=np.int64), np.array(handles, dtype=np.int64)
