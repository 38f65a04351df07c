"""The face task's energy (ALGORITHM.md §7.6): drag's per-pair edit term alone, for many
pairs at once. `DragEnergy` gathers each pair's 3x3 blocks separately; with a face's 68
pairs that is 136 gathers per level, and as many full-size gradient buffers in the backward
pass. Here every pair's cells are gathered in one go and averaged per pair with index_add:
the same numbers, one gather per level.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffeditor_app.engine.method.energy import Levels, attract, similarity


@dataclass(frozen=True)
class LandmarkEnergy:
    """E_edit = sum_levels sum_pairs attract(w_edit, mean sim(F_gen[t], F_gud[h])) / (L P);
    no content term (it returns 0)."""

    targets: torch.Tensor  # every pair's target-block cells, concatenated
    handles: torch.Tensor  # the handle-block cell each of them is compared with
    pair: torch.Tensor  # the pair each cell belongs to, 0..P-1
    pairs: int  # P
    w_edit: float

    @classmethod
    def of(
        cls, targets: list[torch.Tensor], handles: list[torch.Tensor], w_edit: float
    ) -> LandmarkEnergy:
        """From per-pair cell lists, as `DragEnergy` takes them."""
        pair = torch.cat([torch.full_like(t, number) for number, t in enumerate(targets)])
        return cls(torch.cat(targets), torch.cat(handles), pair, len(targets), w_edit)

    def __call__(
        self, gen: Levels, gud: Levels, ref: Levels | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        edit = gen[0].new_zeros(())
        levels = len(gen)
        counts = torch.bincount(self.pair, minlength=self.pairs)
        for f_gen, f_gud in zip(gen, gud, strict=True):
            s = similarity(f_gen[:, self.targets], f_gud[:, self.handles])
            sums = s.new_zeros(self.pairs).index_add(0, self.pair, s)
            mean = sums / counts.clamp_min(1).to(s.dtype)
            edit = edit + attract(self.w_edit, mean[counts > 0]).sum() / (levels * self.pairs)
        return edit, gen[0].new_zeros(())
