"""Where the two guidance gradients land: the reason regional and global guidance do (or do
not) differ in the quality table (issue 12).

    python bench/toyworld/guidance_reach.py [--model models/toy] [--scenes 8] [--patterned]

Regional guidance (paper Eq. 8) keeps dE_edit/dz inside the edit mask and dE_content/dz
outside it; global guidance adds both everywhere. The two can only differ by the part of
each gradient that falls on the other side of the mask. For held-out cases of every task,
run with the method's settings, each guided step records:

- edit outside: ||(1 - m) dE_edit|| / ||dE_edit||, the edit gradient's share off the mask;
- content inside: ||m dE_content|| / ||dE_content||, the content gradient's share on it;
- global - regional: ||g_global - g_regional|| / ||g_regional||;
- ... against eps: lambda S ||g_global - g_regional|| / ||eps||, how far the choice moves
  the step's noise prediction;
- guidance against eps: lambda S ||g_regional|| / ||eps||.

Norms are taken over the whole latent; the report gives the mean over steps and cases.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from attention import model_and_scenes
from quality import TASKS, cases_for

from diffeditor_app.engine import Editor, ModelSpec, load_model
from diffeditor_app.engine.limits import DEFAULT_STEPS
from diffeditor_app.engine.method.sampler import DiffEditorSampler

MEASURES = (
    "edit outside",
    "content inside",
    "global - regional",
    "... against eps",
    "guidance against eps",
)


def _share(part: torch.Tensor, whole: torch.Tensor) -> float:
    return float(part.norm() / whole.norm().clamp_min(1e-20))


class Recorder:
    """Wraps the sampler's noise prediction and energy gradients to read each guided step."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self._eps: torch.Tensor | None = None
        self._noise = DiffEditorSampler.guided_noise
        self._gradients = DiffEditorSampler.energy_gradients

    def __enter__(self) -> Recorder:
        recorder = self

        def guided_noise(sampler, *args):
            recorder._eps = recorder._noise(sampler, *args)
            return recorder._eps

        def energy_gradients(sampler, z, t, i, cond, plan, grid):
            edit, content = recorder._gradients(sampler, z, t, i, cond, plan, grid)
            recorder.record(sampler.settings.guidance_scale, plan.grad_mask, edit, content)
            return edit, content

        DiffEditorSampler.guided_noise = guided_noise
        DiffEditorSampler.energy_gradients = energy_gradients
        return self

    def __exit__(self, *exc) -> None:
        DiffEditorSampler.guided_noise = self._noise
        DiffEditorSampler.energy_gradients = self._gradients

    def record(
        self, scale: float, mask: torch.Tensor, edit: torch.Tensor, content: torch.Tensor
    ) -> None:
        m = mask.to(edit.dtype)
        regional = m * edit + (1 - m) * content
        difference = (1 - m) * edit + m * content  # global - regional
        row = {
            "global - regional": _share(difference, regional),
            "... against eps": scale * _share(difference, self._eps),
            "guidance against eps": scale * _share(regional, self._eps),
        }
        if edit.abs().sum() > 0:
            row["edit outside"] = _share((1 - m) * edit, edit)
        if content.abs().sum() > 0:
            row["content inside"] = _share(m * content, content)
        self.rows.append(row)


def reach(
    model: str, scenes: int, patterned: bool = False, steps: int = DEFAULT_STEPS
) -> dict[str, dict[str, float]]:
    editor = Editor(load_model(ModelSpec(model, device="cpu")))
    report = {}
    for task in TASKS:
        with Recorder() as recorder:
            for case in cases_for(task, scenes, patterned=patterned):
                editor.edit(replace(case.request, steps=steps))
        report[task] = {
            measure: sum(values) / len(values)
            for measure in MEASURES
            if (values := [row[measure] for row in recorder.rows if measure in row])
        }
    return report


def main(argv: list[str] | None = None) -> int:
    args = model_and_scenes(__doc__, argv)
    report = reach(args.model, args.scenes, args.patterned)
    print(f"{'task':<11}" + "".join(f"{m:>22}" for m in MEASURES))
    for task, row in report.items():
        cells = "".join(f"{100 * row[m]:>21.1f}%" if m in row else f"{'-':>22}" for m in MEASURES)
        print(f"{task:<11}{cells}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
