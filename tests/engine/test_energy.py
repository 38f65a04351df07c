"""Energies against hand computations (ALGORITHM.md §7, §6.3)."""

from __future__ import annotations

import pytest
import torch

from diffeditor_app.engine.method.energy import COS_FLOOR, cosine, similarity
from diffeditor_app.engine.tasks.drag import DragEnergy
from diffeditor_app.engine.tasks.move import MoveEnergy


def idx(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long)


def test_cosine_is_floored():
    a = torch.tensor([[1.0], [0.0]])
    assert cosine(a, -a).item() == pytest.approx(COS_FLOOR)
    assert cosine(a, a).item() == 1.0
    assert similarity(a, a).item() == 1.0


def move_energy(**weights) -> MoveEnergy:
    base = dict(w_edit=4.0, w_content=6.0, w_contrast=0.2, w_inpaint=0.8)
    base.update(weights)
    return MoveEnergy(dest=idx(2), src=idx(0), other=idx(3), vacated=idx(0), fill=idx(3), **base)


def test_move_energy_by_hand():
    # 4 cells, 2 channels; two identical levels
    gud = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    gen = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    edit, content = move_energy()([gen, gen], [gud, gud])
    # edit: cos(gen[2], gud[0]) = 1 -> per level 0.5 * 4 / 5
    assert abs(edit.item() - 2 * 0.5 * 4 / 5) < 1e-6
    # content per level: other cell 3: cos = 0 -> 0.5 * 6 / 1
    #   contrast: vacated cell 0: cos = 1 -> 0.2 * 0.5 * 1
    #   inpaint: cos(gen[0], gud[3]) = 1 -> 0.8 / (1 + 4 * 1)
    per_level = 0.5 * 6 / 1 + 0.2 * 0.5 * 1 + 0.8 / 5
    assert abs(content.item() - 2 * per_level) < 1e-6


def test_move_energy_skips_empty_terms():
    gen = torch.randn(3, 4)
    energy = MoveEnergy(
        dest=idx(1),
        src=idx(1),
        other=idx(),
        vacated=idx(),
        fill=idx(),
        w_edit=4.0,
        w_content=6.0,
        w_contrast=0.2,
        w_inpaint=0.8,
    )
    edit, content = energy([gen], [gen])
    assert abs(edit.item() - 0.5 * 4 / 5) < 1e-6
    assert content.item() == 0.0 and not content.requires_grad


def test_drag_energy_by_hand():
    gud = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    gen = torch.tensor([[1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]])
    energy = DragEnergy(
        targets=(idx(1), idx(3)),
        handles=(idx(0), idx(2)),
        vacated=(idx(0), idx()),
        other=idx(2),
        w_edit=4.0,
        w_content=6.0,
        w_inpaint=0.2,
    )
    edit, content = energy([gen], [gud])
    # pair 1: cos(gen[1], gud[0]) = 1 -> sim 1 -> 4 / 5; vacated cell 0: sim 1 -> 0.2 * 1
    # pair 2: cos(gen[3], gud[2]) = 1 -> 4 / 5; nothing vacated; one level, two pairs
    expected_edit = (4 / 5 + 0.2 * 1 + 4 / 5) / (1 * 2)
    assert abs(edit.item() - expected_edit) < 1e-6
    # content: cos(gen[2], gud[2]) = 0 -> sim 0.5 -> 6 / (1 + 2), over one level
    assert abs(content.item() - 6 / 3) < 1e-6
    # two identical levels: the sums double and the division by the levels undoes it
    edit2, content2 = energy([gen, gen], [gud, gud])
    assert abs(edit2.item() - expected_edit) < 1e-6
    assert abs(content2.item() - 6 / 3) < 1e-6


def test_energies_stay_finite_on_zero_features():
    zeros = torch.zeros(2, 4, requires_grad=True)
    edit, content = move_energy()([zeros], [torch.zeros(2, 4)])
    (grad,) = torch.autograd.grad(edit + content, zeros)
    assert torch.isfinite(edit) and torch.isfinite(content) and torch.isfinite(grad).all()
