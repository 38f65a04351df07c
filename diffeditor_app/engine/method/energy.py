"""The energies of the editing tasks (ALGORITHM.md §7, §6.3).

Symbols: F_gen = features of the latent being generated (with gradients), F_gud = features of
the inverted source latent at the same timestep (F_base in the two-image tasks), F_ref =
those of the inverted reference image. All arrive as one [C, cells] tensor per
feature level on the feature grid, cells in raster order. Every term has the form
w / (1 + 4 s); energies are minimised, so the guidance moves eps along +grad E.
Raw cosines are clamped at COS_FLOOR so that 1 + 4 s can never reach zero.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def two_image_content(
    gen: Levels, base: Levels, outside: torch.Tensor, w_content: float
) -> torch.Tensor:
    """E_content of appearance and paste: sum_levels w / (1 + 4 mean_outside sim(F_gen, F_base))."""
    content = gen[0].new_zeros(())
    if outside.numel():
        for f_gen, f_base in zip(gen, base, strict=True):
            s = similarity(f_gen[:, outside], f_base[:, outside]).mean()
            content = content + attract(w_content, s)
    return content


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
