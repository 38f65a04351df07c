"""The face task's energy is drag's edit term with no vacated cells and no content cells,
computed in one gather: the same value and the same gradient as `DragEnergy`."""

from __future__ import annotations

import torch

from diffeditor_app.engine.tasks.drag import DragEnergy
from diffeditor_app.engine.tasks.face import LandmarkEnergy


def test_landmark_energy_equals_drag_energy_without_vacated_or_content_cells():
    torch.manual_seed(0)
    cells = 12 * 12
    targets = [torch.randint(0, cells, (n,)) for n in (9, 6, 4, 9)]  # border blocks are smaller
    handles = [torch.randint(0, cells, (t.numel(),)) for t in targets]
    none = torch.zeros(0, dtype=torch.long)
    drag = DragEnergy(
        targets=tuple(targets),
        handles=tuple(handles),
        vacated=(none,) * len(targets),
        other=none,
        w_edit=4.0,
        w_content=6.0,
        w_inpaint=0.2,
    )
    landmark = LandmarkEnergy.of(targets, handles, w_edit=4.0)
    gud = [torch.randn(8, cells), torch.randn(5, cells)]
    values, grads = [], []
    for energy in (drag, landmark):
        gen = [torch.randn(8, cells, generator=torch.Generator().manual_seed(1)).requires_grad_()]
        gen.append(torch.randn(5, cells, generator=torch.Generator().manual_seed(2)))
        gen[1].requires_grad_()
        edit, content = energy(gen, gud)
        assert content.item() == 0
        values.append(edit)
        grads.append(torch.autograd.grad(edit, gen))
    assert torch.allclose(values[0], values[1])
    for a, b in zip(grads[0], grads[1], strict=True):
        assert torch.allclose(a, b, atol=1e-7)
