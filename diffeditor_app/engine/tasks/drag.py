"""Drag: content moves from handle points to target points inside an editable region
(ALGORITHM.md §7.2)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.geometry import Frame, block_mask, disc_mask, resize_mask
from diffeditor_app.engine.method.energy import Levels, attract, similarity
from diffeditor_app.engine.method.plans import EditPlan, block_pairs, cells, latent_mask
from diffeditor_app.engine.requests import EditRequest, Kind, MaskedEdit, Point, wire
from diffeditor_app.engine.settings import FAST_BOOSTED, BankMode, TaskSettings
from diffeditor_app.engine.tasks.base import Scene, TaskSpec


@dataclass(frozen=True, kw_only=True, eq=False)
class DragEdit(MaskedEdit):
    """Drag content from handle points to target points inside an editable region."""

    pairs: tuple[tuple[Point, Point], ...] = field(
        default=(),
        metadata=wire(
            Kind.POINT_PAIRS, "HX,HY:TX,TY (repeat for more pairs)", flag="--points", required=True
        ),
    )
    mask_name: str = field(default="editable region", repr=False)

    def validate(self) -> None:
        super().validate()
        if not self.pairs:
            raise InvalidInput("Add at least one handle -> target point pair to drag.")
        for number, (handle, target) in enumerate(self.pairs, start=1):
            for label, point in (("handle", handle), ("target", target)):
                if not (0 <= point.x < self.image.width and 0 <= point.y < self.image.height):
                    raise InvalidInput(
                        f"Pair {number}: the {label} ({point.x:g}, {point.y:g}) is outside the "
                        f"{self.image.width}x{self.image.height} image."
                    )
        if all(handle == target for handle, target in self.pairs):
            raise InvalidInput("Every handle equals its target: there is nothing to drag.")

    def edit_region(self) -> np.ndarray:
        return self.mask


@dataclass(frozen=True)
class DragEnergy:
    """Content dragging by N handle -> target pairs."""

    targets: tuple[torch.Tensor, ...]  # per pair: cells of the 3x3 block at the target ...
    handles: tuple[torch.Tensor, ...]  # ... and the matching cells of the block at the handle
    vacated: tuple[torch.Tensor, ...]  # per pair: m_h minus m_t
    other: torch.Tensor  # outside the editable region
    w_edit: float
    w_content: float
    w_inpaint: float

    def __call__(
        self, gen: Levels, gud: Levels, ref: Levels | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        edit = gen[0].new_zeros(())
        content = gen[0].new_zeros(())
        # the reference divides by 2 for its two SD1.5 levels: divide by the levels used, so a
        # model with one feature level is not guided at half strength
        levels, pairs = len(gen), len(self.targets)
        for f_gen, f_gud in zip(gen, gud, strict=True):
            for target, handle, vacated in zip(
                self.targets, self.handles, self.vacated, strict=True
            ):
                s = similarity(f_gen[:, target], f_gud[:, handle]).mean()
                edit = edit + attract(self.w_edit, s) / (levels * pairs)
                if vacated.numel():
                    stay = similarity(f_gen[:, vacated], f_gud[:, vacated]).mean()
                    edit = edit + self.w_inpaint * stay / (levels * pairs)
            if self.other.numel():
                s = similarity(f_gen[:, self.other], f_gud[:, self.other]).mean()
                content = content + attract(self.w_content, s) / levels
        return edit, content


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


def plan_drag(
    request: DragEdit, frame: Frame, settings: TaskSettings, device: torch.device
) -> EditPlan:
    region, notes = grown_region(request, frame)
    grid = frame.grid_shape
    targets, handles, vacated = [], [], []
    for handle, target in request.pairs:
        h_cell = frame.cell_of(grid, *handle)
        t_cell = frame.cell_of(grid, *target)
        t_idx, h_idx = block_pairs(grid, h_cell, t_cell)
        targets.append(torch.from_numpy(t_idx).to(device))
        handles.append(torch.from_numpy(h_idx).to(device))
        leaving = block_mask(grid, *h_cell) & ~block_mask(grid, *t_cell)
        vacated.append(cells(leaving, device))
    energy = DragEnergy(
        targets=tuple(targets),
        handles=tuple(handles),
        vacated=tuple(vacated),
        other=cells(~resize_mask(region, grid), device),
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
            t_idx, h_idx = block_pairs(latent, (hc, hr), (tc, tr))
            flat, source = z.flatten(2), z_T.flatten(2)
            flat[:, :, t_idx] = source[:, :, h_idx]
        return z

    region_latent = latent_mask(resize_mask(region, latent), device)
    return EditPlan(
        energy=energy,
        grad_mask=region_latent,
        sde_mask=region_latent,
        initial_latent=initial_latent,
        region=region,
        notes=notes,
    )


DEFAULTS = TaskSettings(  # the tuned numbers (ALGORITHM.md §9)
    cfg_scale=4.0,
    guidance_strength=2.0,
    guidance_lambda=0.04,
    w_edit=4.0,
    w_content=6.0,
    w_inpaint=0.2,
    bank_mode=BankMode.CONCAT,
    bank_from=5,
    fast=FAST_BOOSTED,
)


def examples(scene: Scene) -> dict[str, EditRequest]:
    """A one-point drag inside the scene's region."""
    h, w = scene.mask.shape
    handle = Point(w * 0.35, h * 0.45)
    return {
        "drag": DragEdit(
            image=scene.image,
            mask=scene.region,
            pairs=((handle, Point(w * 0.55, h * 0.5)),),
            steps=scene.steps,
        )
    }


SPEC = TaskSpec(
    name="drag",
    summary="drag content by point pairs",
    request=DragEdit,
    defaults=DEFAULTS,
    planner=plan_drag,
    examples=examples,
)
