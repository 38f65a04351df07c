"""Per-task plans: masks on each grid, energy, initial latent and compose region.

A plan turns a request (original pixels) into what the sampler needs (latent and feature
grids). `PLANNERS` maps a task to its planner; the sampler itself has no per-task branches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.geometry import (
    AxisMap,
    Frame,
    Letterbox,
    block_mask,
    disc_mask,
    resize_mask,
)
from diffeditor_app.engine.method.attention import TokenMasks
from diffeditor_app.engine.method.energy import (
    AppearanceEnergy,
    DragEnergy,
    MoveEnergy,
    PasteEnergy,
)
from diffeditor_app.engine.method.landmark import LandmarkEnergy
from diffeditor_app.engine.requests import (
    AppearanceEdit,
    DragEdit,
    EditRequest,
    FaceEdit,
    MoveEdit,
    PasteEdit,
    ReferenceEdit,
    paste_map,
)
from diffeditor_app.engine.settings import Task, TaskSettings

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


def _cells(mask: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.flatnonzero(mask)).to(device)


def _latent_mask(mask: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(mask.astype(np.float32))[None, None].to(device)


def plan_move(
    request: MoveEdit, frame: Frame, settings: TaskSettings, device: torch.device
) -> EditPlan:
    grid = frame.grid_shape
    placement = request.placement().rescaled(*frame.factors(grid))
    original = resize_mask(request.mask, grid)
    dest, src = placement.pairs(original)
    if dest.size == 0:
        raise InvalidInput("The object would leave the image entirely; choose a smaller offset.")
    current = np.zeros(grid, dtype=bool)
    current.flat[dest] = True
    other = ~(current | original)
    vacated = original & ~current
    fill = other if request.fill_region is None else resize_mask(request.fill_region, grid)
    energy = MoveEnergy(
        dest=torch.from_numpy(dest).to(device),
        src=torch.from_numpy(src).to(device),
        other=_cells(other, device),
        vacated=_cells(vacated, device),
        fill=_cells(fill, device),
        w_edit=settings.w_edit,
        w_content=settings.w_content,
        w_contrast=settings.w_contrast,
        w_inpaint=settings.w_inpaint,
    )
    latent = frame.latent_shape
    latent_placement = request.placement().rescaled(*frame.factors(latent))
    latent_original = resize_mask(request.mask, latent)
    src_row, src_col, valid = latent_placement.sources(latent)
    placed = valid & latent_original[src_row, src_col]

    def initial_latent(z_T: torch.Tensor) -> torch.Tensor:
        """z_T with the object's part moved and scaled the same way, pasted under m_cur."""
        z = z_T.clone()
        rows, cols = np.nonzero(placed)
        z[:, :, rows, cols] = z_T[:, :, src_row[rows, cols], src_col[rows, cols]]
        return z

    return EditPlan(
        energy=energy,
        grad_mask=_latent_mask(placed, device),
        sde_mask=_latent_mask(placed | latent_original, device),
        initial_latent=initial_latent,
        region=request.edit_region(),
    )


def grown_region(request: DragEdit, frame: Frame) -> tuple[np.ndarray, list[str]]:
    """The editable region, grown by a small disc around any point outside it
    (ALGORITHM.md §7.2): two feature cells or 1% of the long side, whichever is larger."""
    region = request.mask.copy()
    cell = max(frame.width / frame.grid_shape[1], frame.height / frame.grid_shape[0])
    radius = max(2.0 * cell, 0.01 * max(frame.width, frame.height))
    notes = []
    for number, (handle, target) in enumerate(request.pairs, start=1):
        for label, point in (("handle", handle), ("target", target)):
            if not request.mask[int(point.y), int(point.x)]:
                region |= disc_mask(region.shape, point.x, point.y, radius)
                notes.append(
                    f"The {label} of pair {number} lies outside the editable region; "
                    "the region was grown around it."
                )
    return region, notes


def _block_pairs(
    shape: tuple[int, int], handle: tuple[int, int], target: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Cells of the 3x3 target block paired with the same offsets in the handle block;
    offsets that leave the grid on either side are dropped."""
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


def plan_drag(
    request: DragEdit, frame: Frame, settings: TaskSettings, device: torch.device
) -> EditPlan:
    region, notes = grown_region(request, frame)
    grid = frame.grid_shape
    targets, handles, vacated = [], [], []
    for handle, target in request.pairs:
        h_cell = frame.cell_of(grid, *handle)
        t_cell = frame.cell_of(grid, *target)
        t_idx, h_idx = _block_pairs(grid, h_cell, t_cell)
        targets.append(torch.from_numpy(t_idx).to(device))
        handles.append(torch.from_numpy(h_idx).to(device))
        leaving = block_mask(grid, *h_cell) & ~block_mask(grid, *t_cell)
        vacated.append(_cells(leaving, device))
    energy = DragEnergy(
        targets=tuple(targets),
        handles=tuple(handles),
        vacated=tuple(vacated),
        other=_cells(~resize_mask(region, grid), device),
        w_edit=settings.w_edit,
        w_content=settings.w_content,
        w_inpaint=settings.w_inpaint,
    )
    latent = frame.latent_shape
    moves = [
        (frame.cell_of(latent, *handle), frame.cell_of(latent, *target))
        for handle, target in request.pairs
    ]

    def initial_latent(z_T: torch.Tensor) -> torch.Tensor:
        """Copy the 3x3 latent patch at each handle to its target."""
        z = z_T.clone()
        for (hc, hr), (tc, tr) in moves:
            t_idx, h_idx = _block_pairs(latent, (hc, hr), (tc, tr))
            flat, source = z.flatten(2), z_T.flatten(2)
            flat[:, :, t_idx] = source[:, :, h_idx]
        return z

    region_latent = _latent_mask(resize_mask(region, latent), device)
    return EditPlan(
        energy=energy,
        grad_mask=region_latent,
        sde_mask=region_latent,
        initial_latent=initial_latent,
        region=region,
        notes=notes,
    )


def letterbox_for(request: ReferenceEdit, frame: Frame) -> Letterbox:
    return Letterbox.fit(
        request.reference.width, request.reference.height, frame.work_width, frame.work_height
    )


def _ref_object(request: ReferenceEdit, box: Letterbox, shape: tuple[int, int]) -> np.ndarray:
    """The reference object on a grid over the working frame."""
    return resize_mask(box.mask(request.reference_mask), shape)


def _token_masks(base_object: np.ndarray, ref_object: np.ndarray, device) -> TokenMasks:
    return TokenMasks(
        torch.from_numpy(base_object).to(device), torch.from_numpy(ref_object).to(device)
    )


def plan_appearance(
    request: AppearanceEdit, frame: Frame, settings: TaskSettings, device: torch.device
) -> EditPlan:
    grid, latent = frame.grid_shape, frame.latent_shape
    box = letterbox_for(request, frame)
    base_object = resize_mask(request.mask, grid)
    energy = AppearanceEnergy(
        base_object=_cells(base_object, device),
        outside=_cells(~base_object, device),
        ref_object=_cells(_ref_object(request, box, grid), device),
        w_edit=settings.w_edit,
        w_content=settings.w_content,
    )
    base_latent = resize_mask(request.mask, latent)
    return EditPlan(
        energy=energy,
        grad_mask=_latent_mask(base_latent, device),
        sde_mask=_latent_mask(base_latent, device),
        initial_latent=lambda z_T: z_T[:1].clone(),
        region=request.edit_region(),
        token_masks=_token_masks(base_latent, _ref_object(request, box, latent), device),
        letterbox=box,
    )


def paste_grid_map(request: PasteEdit, frame: Frame, box: Letterbox, shape) -> AxisMap:
    """Cells of a base grid -> cells of the same grid over the letterboxed reference."""
    fx, fy = frame.factors(shape)
    return paste_map(request).after(1 / fx, 0.0, 1 / fy, 0.0).then(*box.to_grid(shape))


def plan_paste(
    request: PasteEdit, frame: Frame, settings: TaskSettings, device: torch.device
) -> EditPlan:
    grid, latent = frame.grid_shape, frame.latent_shape
    box = letterbox_for(request, frame)
    dest, src = paste_grid_map(request, frame, box, grid).pairs(_ref_object(request, box, grid))
    if dest.size == 0:
        raise InvalidInput("The pasted object would lie outside the image; move it inside.")
    placed = np.zeros(grid, dtype=bool)
    placed.flat[dest] = True
    energy = PasteEnergy(
        dest=torch.from_numpy(dest).to(device),
        src=torch.from_numpy(src).to(device),
        outside=_cells(~placed, device),
        w_edit=settings.w_edit,
        w_content=settings.w_content,
    )
    ref_latent = _ref_object(request, box, latent)
    latent_dest, latent_src = paste_grid_map(request, frame, box, latent).pairs(ref_latent)
    placed_latent = np.zeros(latent, dtype=bool)
    placed_latent.flat[latent_dest] = True
    dest_t, src_t = torch.from_numpy(latent_dest), torch.from_numpy(latent_src)

    def initial_latent(z_T: torch.Tensor) -> torch.Tensor:
        """The base z_T with the reference z_T under the object, placed the same way."""
        z = z_T[:1].clone()
        z.flatten(2)[:, :, dest_t.to(z.device)] = z_T[1:2].flatten(2)[:, :, src_t.to(z.device)]
        return z

    return EditPlan(
        energy=energy,
        grad_mask=_latent_mask(placed_latent, device),
        sde_mask=_latent_mask(placed_latent, device),
        initial_latent=initial_latent,
        region=request.edit_region(),
        token_masks=_token_masks(placed_latent, ref_latent, device),
        letterbox=box,
    )


def plan_face(
    request: FaceEdit, frame: Frame, settings: TaskSettings, device: torch.device
) -> EditPlan:
    """Landmark guidance (ALGORITHM.md §7.6): drag's per-pair edit energy on 3x3 blocks and
    nothing else (no content, no inpaint term; `LandmarkEnergy`), on the whole crop unless a
    face mask limits it; the sampling starts from the inverted z_T itself."""
    grid = frame.grid_shape
    targets, handles = [], []
    for handle, target in request.pairs:
        t_idx, h_idx = _block_pairs(
            grid, frame.cell_of(grid, *handle), frame.cell_of(grid, *target)
        )
        targets.append(torch.from_numpy(t_idx).to(device))
        handles.append(torch.from_numpy(h_idx).to(device))
    energy = LandmarkEnergy.of(targets, handles, settings.w_edit)
    region = request.edit_region()
    guided = _latent_mask(resize_mask(region, frame.latent_shape), device)
    return EditPlan(
        energy=energy,
        grad_mask=guided,
        sde_mask=guided,
        initial_latent=lambda z_T: z_T[:1].clone(),
        region=region,
    )


Planner = Callable[[EditRequest, Frame, TaskSettings, torch.device], EditPlan]
PLANNERS: dict[Task, Planner] = {
    Task.MOVE: plan_move,
    Task.DRAG: plan_drag,
    Task.APPEARANCE: plan_appearance,
    Task.PASTE: plan_paste,
    Task.FACE: plan_face,
}
