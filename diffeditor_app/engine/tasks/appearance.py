"""Appearance replacing: an object of the image takes the look of the reference's object
(ALGORITHM.md §7.3)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from diffeditor_app.engine.imaging.geometry import Frame, resize_mask
from diffeditor_app.engine.method.energy import Levels, attract, similarity, two_image_content
from diffeditor_app.engine.method.plans import (
    EditPlan,
    cells,
    latent_mask,
    letterbox_for,
    ref_object,
    token_masks,
)
from diffeditor_app.engine.requests import EditRequest, Kind, ReferenceEdit, check_mask, wire
from diffeditor_app.engine.settings import FAST_BOOSTED, BankMode, TaskSettings
from diffeditor_app.engine.tasks.base import Scene, TaskSpec


@dataclass(frozen=True, kw_only=True, eq=False)
class AppearanceEdit(ReferenceEdit):
    """Give an object of the image the appearance of the reference's object."""

    mask: np.ndarray = field(  # the object whose appearance changes
        metadata=wire(Kind.MASK, "mask image, non-zero = inside", sized_like="image")
    )

    def validate(self) -> None:
        super().validate()
        check_mask(self.mask, self.image, "object mask")

    def edit_region(self) -> np.ndarray:
        return self.mask


@dataclass(frozen=True)
class AppearanceEnergy:
    """Appearance replacing: the object's mean feature is pulled to the reference object's."""

    base_object: torch.Tensor  # cells of m_base
    outside: torch.Tensor  # cells outside m_base
    ref_object: torch.Tensor  # cells of m_ref on the (letterboxed) reference grid
    w_edit: float
    w_content: float

    def __call__(
        self, gen: Levels, gud: Levels, ref: Levels | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        edit = gen[0].new_zeros(())
        for f_gen, f_ref in zip(gen, ref, strict=True):
            obj = f_gen[:, self.base_object].mean(dim=1, keepdim=True)
            look = f_ref[:, self.ref_object].mean(dim=1, keepdim=True)
            edit = edit + attract(self.w_edit, similarity(obj, look).mean())
        return edit, two_image_content(gen, gud, self.outside, self.w_content)


def plan_appearance(
    request: AppearanceEdit, frame: Frame, settings: TaskSettings, device: torch.device
) -> EditPlan:
    grid, latent = frame.grid_shape, frame.latent_shape
    box = letterbox_for(request, frame)
    base_object = resize_mask(request.mask, grid)
    energy = AppearanceEnergy(
        base_object=cells(base_object, device),
        outside=cells(~base_object, device),
        ref_object=cells(ref_object(request, box, grid), device),
        w_edit=settings.w_edit,
        w_content=settings.w_content,
    )
    base_latent = resize_mask(request.mask, latent)
    return EditPlan(
        energy=energy,
        grad_mask=latent_mask(base_latent, device),
        sde_mask=latent_mask(base_latent, device),
        initial_latent=lambda z_T: z_T[:1].clone(),
        region=request.edit_region(),
        token_masks=token_masks(base_latent, ref_object(request, box, latent), device),
        letterbox=box,
    )


DEFAULTS = TaskSettings(  # the tuned numbers (ALGORITHM.md §9)
    cfg_scale=5.0,
    guidance_strength=2.0,
    guidance_lambda=0.04,
    w_edit=3.5,
    w_content=5.0,
    bank_mode=BankMode.MASKED,
    bank_until=36,  # steps 0..35
    fast=FAST_BOOSTED,
)


def examples(scene: Scene) -> dict[str, EditRequest]:
    """The scene's object takes the look of the reference's."""
    return {
        "appearance": AppearanceEdit(
            image=scene.image,
            mask=scene.mask,
            reference=scene.reference,
            reference_mask=scene.reference_mask,
            steps=scene.steps,
        )
    }


SPEC = TaskSpec(
    name="appearance",
    summary="give an object the appearance of the reference's object",
    request=AppearanceEdit,
    defaults=DEFAULTS,
    planner=plan_appearance,
    examples=examples,
)
