"""Object pasting: the reference's object is placed on the image at a point and scaled
about its centre (ALGORITHM.md §7.4)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.geometry import AxisMap, Frame, Letterbox, bbox_centre
from diffeditor_app.engine.limits import MAX_SCALE, MIN_SCALE
from diffeditor_app.engine.method.energy import Levels, attract, similarity, two_image_content
from diffeditor_app.engine.method.plans import (
    EditPlan,
    cells,
    latent_mask,
    letterbox_for,
    ref_object,
    token_masks,
)
from diffeditor_app.engine.requests import (
    EditRequest,
    Kind,
    ReferenceEdit,
    far_outside,
    wire,
)
from diffeditor_app.engine.settings import FAST_BOOSTED, BankMode, TaskSettings
from diffeditor_app.engine.tasks.base import Scene, TaskSpec


@dataclass(frozen=True, kw_only=True, eq=False)
class PasteEdit(ReferenceEdit):
    """Paste the reference's object into the image, centred at `at`, scaled about its centre."""

    at: tuple[float, float] = field(  # centre of the pasted object, in the image's pixels
        metadata=wire(Kind.PAIR, "X,Y: centre of the pasted object", what="paste position")
    )
    scale: float = field(default=1.0, metadata=wire(Kind.NUMBER, "resize about its centre"))

    def validate(self) -> None:
        super().validate()
        if not all(math.isfinite(v) for v in self.at):
            raise InvalidInput("The paste position must be two finite numbers.")
        if far_outside(self.at, self.image, self.reference.size):
            raise InvalidInput(
                f"The paste position ({self.at[0]:g}, {self.at[1]:g}) is far outside the "
                "image; choose a position inside it."
            )
        if not (math.isfinite(self.scale) and MIN_SCALE <= self.scale <= MAX_SCALE):
            raise InvalidInput(
                f"scale must be between {MIN_SCALE} and {MAX_SCALE}, got {self.scale}."
            )
        if not self.edit_region().any():
            raise InvalidInput(
                "At that position the pasted object lies entirely outside the image; "
                "choose a position inside it."
            )

    def edit_region(self) -> np.ndarray:
        """The placed object on the image, at the image's size (never wrapping)."""
        return placed_reference(self)

    def content_alpha(self) -> np.ndarray | None:
        """The pasted object brings its alpha (opaque where the reference has none)."""
        alpha = self.image.alpha
        if alpha is None:
            return None
        source = self.reference.alpha
        if source is None:
            source = np.full(self.reference_mask.shape, 255, np.uint8)
        carried = paste_map(self).carry(
            np.where(self.reference_mask, source, 0).astype(np.uint8), alpha.shape
        )
        return np.maximum(alpha, carried)


def paste_map(request: PasteEdit) -> AxisMap:
    """Base-image pixels -> reference pixels of the pasted object: the reference object is
    scaled about its bounding-box centre c and its centre put on `at` (a pixel, whose
    centre is at + 0.5): p = c + (q - at - 0.5) / s."""
    cx, cy = bbox_centre(request.reference_mask)
    s = request.scale
    return AxisMap(1 / s, cx - (request.at[0] + 0.5) / s, 1 / s, cy - (request.at[1] + 0.5) / s)


def placed_reference(request: PasteEdit) -> np.ndarray:
    """The pasted object on the base image, at the base image's size."""
    shape = (request.image.height, request.image.width)
    return paste_map(request).place(request.reference_mask, shape)


@dataclass(frozen=True)
class PasteEnergy:
    """Object pasting: each placed cell is pulled to the reference cell it shows."""

    dest: torch.Tensor  # cells of m_base (the placed object)
    src: torch.Tensor  # for each, its cell of m_ref on the reference grid
    outside: torch.Tensor  # cells outside m_base
    w_edit: float
    w_content: float

    def __call__(
        self, gen: Levels, gud: Levels, ref: Levels | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        edit = gen[0].new_zeros(())
        for f_gen, f_ref in zip(gen, ref, strict=True):
            s = similarity(f_gen[:, self.dest], f_ref[:, self.src]).mean()
            edit = edit + attract(self.w_edit, s)
        return edit, two_image_content(gen, gud, self.outside, self.w_content)


def paste_grid_map(request: PasteEdit, frame: Frame, box: Letterbox, shape) -> AxisMap:
    """Cells of a base grid -> cells of the same grid over the letterboxed reference."""
    fx, fy = frame.factors(shape)
    return paste_map(request).after(1 / fx, 0.0, 1 / fy, 0.0).then(*box.to_grid(shape))


def plan_paste(
    request: PasteEdit, frame: Frame, settings: TaskSettings, device: torch.device
) -> EditPlan:
    grid, latent = frame.grid_shape, frame.latent_shape
    box = letterbox_for(request, frame)
    dest, src = paste_grid_map(request, frame, box, grid).pairs(ref_object(request, box, grid))
    if dest.size == 0:
        raise InvalidInput("The pasted object would lie outside the image; move it inside.")
    placed = np.zeros(grid, dtype=bool)
    placed.flat[dest] = True
    energy = PasteEnergy(
        dest=torch.from_numpy(dest).to(device),
        src=torch.from_numpy(src).to(device),
        outside=cells(~placed, device),
        w_edit=settings.w_edit,
        w_content=settings.w_content,
    )
    ref_latent = ref_object(request, box, latent)
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
        grad_mask=latent_mask(placed_latent, device),
        sde_mask=latent_mask(placed_latent, device),
        initial_latent=initial_latent,
        region=request.edit_region(),
        token_masks=token_masks(placed_latent, ref_latent, device),
        letterbox=box,
    )


DEFAULTS = TaskSettings(  # the tuned numbers (ALGORITHM.md §9)
    cfg_scale=4.0,
    guidance_strength=1.5,
    guidance_lambda=0.04,
    w_edit=4.0,
    w_content=6.0,
    bank_mode=BankMode.MASKED,
    bank_until=36,
    fast=FAST_BOOSTED,
)


def examples(scene: Scene) -> dict[str, EditRequest]:
    """The reference's object pasted smaller, right of the scene's object."""
    h, w = scene.mask.shape
    return {
        "paste": PasteEdit(
            image=scene.image,
            reference=scene.reference,
            reference_mask=scene.reference_mask,
            at=(w * 0.7, h * 0.6),
            scale=0.8,
            steps=scene.steps,
        )
    }


SPEC = TaskSpec(
    name="paste",
    summary="paste the reference's object",
    request=PasteEdit,
    defaults=DEFAULTS,
    planner=plan_paste,
    examples=examples,
)
