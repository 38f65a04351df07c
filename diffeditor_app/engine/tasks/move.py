"""Move and resize: an object of the image goes by an offset and is scaled about its
centre (ALGORITHM.md §7.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.compose import box_sum, feather_width
from diffeditor_app.engine.imaging.geometry import Frame, Placement, bbox_centre, resize_mask
from diffeditor_app.engine.limits import MAX_SCALE, MIN_SCALE
from diffeditor_app.engine.method.energy import Levels, attract, cosine, similarity
from diffeditor_app.engine.method.plans import EditPlan, cells, latent_mask
from diffeditor_app.engine.requests import (
    EditRequest,
    Kind,
    MaskedEdit,
    check_shape,
    far_outside,
    wire,
)
from diffeditor_app.engine.settings import BankMode, FastSettings, TaskSettings
from diffeditor_app.engine.tasks.base import Scene, TaskSpec


@dataclass(frozen=True, kw_only=True, eq=False)
class MoveEdit(MaskedEdit):
    """Move an object by an offset and resize it about its own centre."""

    offset: tuple[float, float] = field(  # (dx, dy) in image pixels
        default=(0.0, 0.0), metadata=wire(Kind.PAIR, "DX,DY in image pixels", required=True)
    )
    scale: float = field(default=1.0, metadata=wire(Kind.NUMBER, "resize about its centre"))
    fill_hint: np.ndarray | None = field(  # what should fill the vacated area (optional)
        default=None,
        metadata=wire(Kind.MASK, "mask of what should fill the vacated area", sized_like="image"),
    )

    def validate(self) -> None:
        super().validate()
        if not all(math.isfinite(v) for v in self.offset):
            raise InvalidInput("The offset must be two finite numbers.")
        if far_outside(self.offset, self.image, (0.0, 0.0)):
            raise InvalidInput(
                f"The offset ({self.offset[0]:g}, {self.offset[1]:g}) moves the object far "
                "outside the image; choose a smaller offset."
            )
        if not (math.isfinite(self.scale) and MIN_SCALE <= self.scale <= MAX_SCALE):
            raise InvalidInput(
                f"scale must be between {MIN_SCALE} and {MAX_SCALE}, got {self.scale}."
            )
        if self.fill_hint is not None:
            check_shape(self.fill_hint, self.image, "fill hint")
        if not self.placement().place(self.mask).any():
            raise InvalidInput(
                "The offset and scale move the object entirely outside the image; "
                "choose a smaller offset."
            )

    def placement(self) -> Placement:
        """The move in original pixels: scale about the object's bounding-box centre."""
        cx, cy = bbox_centre(self.mask)
        return Placement(self.scale, float(self.offset[0]), float(self.offset[1]), cx, cy)

    def edit_region(self) -> np.ndarray:
        return self.mask | self.placement().place(self.mask)

    def content_alpha(self) -> np.ndarray | None:
        """The object takes its alpha along; the area it leaves gets its surroundings' alpha
        (the median of a ring around it), so a vacated opaque area stays opaque."""
        alpha = self.image.alpha
        if alpha is None:
            return None
        background = alpha.copy()
        radius = feather_width(self.image.width, self.image.height)
        ring = (box_sum(self.mask, radius) > 0) & ~self.mask
        if ring.any():
            background[self.mask] = np.uint8(np.median(alpha[ring]))
        carried = self.placement().inverse().carry(np.where(self.mask, alpha, 0).astype(np.uint8))
        return np.maximum(background, carried)

    @property
    def fill_region(self) -> np.ndarray | None:
        """The fill hint, or None when absent or empty (an empty layer means no hint)."""
        if self.fill_hint is None or not self.fill_hint.any():
            return None
        return self.fill_hint


@dataclass(frozen=True)
class MoveEnergy:
    """Move and resize. dest/src pair every placed cell with the object cell it shows."""

    dest: torch.Tensor  # cells of m_cur (the object at its new place)
    src: torch.Tensor  # for each, the cell of m_org it comes from (F_tar = scaled F_gud)
    other: torch.Tensor  # m_other = not (m_cur or m_org)
    vacated: torch.Tensor  # m_non = m_org minus m_cur
    fill: torch.Tensor  # m_ref: the fill hint, or m_other without one
    w_edit: float
    w_content: float
    w_contrast: float
    w_inpaint: float

    def __call__(
        self, gen: Levels, gud: Levels, ref: Levels | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        edit = gen[0].new_zeros(())
        content = gen[0].new_zeros(())
        for f_gen, f_gud in zip(gen, gud, strict=True):
            if self.dest.numel():
                s = cosine(f_gen[:, self.dest], f_gud[:, self.src]).mean()
                edit = edit + 0.5 * attract(self.w_edit, s)
            if self.other.numel():
                s = cosine(f_gen[:, self.other], f_gud[:, self.other]).mean()
                content = content + 0.5 * attract(self.w_content, s)
            if self.vacated.numel():
                push = similarity(f_gen[:, self.vacated], f_gud[:, self.vacated]).mean()
                content = content + self.w_contrast * 0.5 * push
                if self.fill.numel():
                    hole = f_gen[:, self.vacated].mean(dim=1, keepdim=True)
                    fill = f_gud[:, self.fill].mean(dim=1, keepdim=True)
                    content = content + attract(self.w_inpaint, similarity(hole, fill).mean())
        return edit, content


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
        other=cells(other, device),
        vacated=cells(vacated, device),
        fill=cells(fill, device),
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
        grad_mask=latent_mask(placed, device),
        sde_mask=latent_mask(placed | latent_original, device),
        initial_latent=initial_latent,
        region=request.edit_region(),
    )


DEFAULTS = TaskSettings(  # the tuned numbers (ALGORITHM.md §9)
    cfg_scale=4.0,
    guidance_strength=0.5,
    guidance_lambda=0.08,
    w_edit=4.0,
    w_content=6.0,
    w_contrast=0.2,
    w_inpaint=0.8,
    bank_mode=BankMode.REPLACE,
    bank_from=5,
    fast=FastSettings(guidance_boost=1.5),  # 1x and 2x lost more IoU on move + resize
)


def examples(scene: Scene) -> dict[str, EditRequest]:
    """A move, and a move that also resizes, in the proportions of the scene."""
    h, w = scene.mask.shape
    common = dict(image=scene.image, mask=scene.mask, steps=scene.steps)
    return {
        "move": MoveEdit(offset=(w * 0.2, h * 0.05), **common),
        "resize": MoveEdit(offset=(w * 0.1, 0), scale=1.3, **common),
    }


SPEC = TaskSpec(
    name="move",
    summary="move and resize an object",
    request=MoveEdit,
    defaults=DEFAULTS,
    planner=plan_move,
    examples=examples,
)
