"""Engine cost on the tiny random model, every task and quality: prepare_s, edit_s, UNet
evaluations and unet_work, and the fast/full time ratio.

    python bench/engine_cpu.py [--runs 3] [--steps 50] [--out bench/results/engine_cpu.json]

Each run edits a fresh image, so prepare is measured every time (a cached second edit is
reported separately as `edit_s_cached`). Full and fast alternate within each run, so both
see the same load. Times are medians over the runs; the machine is shared, so compare
ratios from one run, not numbers across days.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from diffeditor_app.engine import Editor, ModelSpec, Quality, load_model
from diffeditor_app.engine.models.testing import scene_requests, tinted_scene, write_tiny_model


def row(samples: list) -> dict:
    """Medians over the runs of (fresh edit, cached re-edit) pairs; counts of the first."""
    first, again = samples[0]
    return {
        "prepare_s": statistics.median(f.prepare_s for f, _ in samples),
        "edit_s": statistics.median(f.edit_s for f, _ in samples),
        "total_s": statistics.median(f.prepare_s + f.edit_s for f, _ in samples),
        "edit_s_cached": statistics.median(a.edit_s for _, a in samples),
        "steps": first.steps,
        "unet_forward": first.unet_forward,
        "prepare_unet_forward": first.prepare_unet_forward,
        "unet_forward_cached": again.unet_forward,
        "unet_backward": first.unet_backward,
        "unet_work": first.unet_work,
        "unet_work_cached": again.unet_work,
        "working_size": list(first.working_size),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--size", default="128x96", help="input image WxH")
    parser.add_argument("--out", type=Path, default=Path("bench/results/engine_cpu.json"))
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    torch.set_num_threads(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as folder:
        model = load_model(ModelSpec(str(write_tiny_model(folder)), device="cpu"))
    editor = Editor(model)
    editor.edit(scene_requests(*tinted_scene(-1, width, height), steps=3)["move"])  # warm-up
    rows: dict[str, dict] = {}
    qualities = [quality.value for quality in Quality]
    for task in ("move", "resize", "drag", "appearance", "paste"):
        samples: dict[str, list] = {quality: [] for quality in qualities}
        for run in range(args.runs):
            for quality in qualities:
                image, mask = tinted_scene(
                    run + 1000 * len(rows) + 100 * qualities.index(quality), width, height
                )
                request = replace(scene_requests(image, mask, args.steps)[task], quality=quality)
                samples[quality].append((editor.edit(request), editor.edit(request)))
        rows[task] = {quality: row(samples[quality]) for quality in qualities}
        rows[task]["fast_full_time"] = rows[task]["fast"]["total_s"] / rows[task]["full"]["total_s"]
        rows[task]["fast_full_work"] = (
            rows[task]["fast"]["unet_work"] / rows[task]["full"]["unet_work"]
        )
    report = {
        "benchmark": "engine_cpu",
        "model": "tiny random SD1.x architecture (engine/models/testing.py)",
        "steps": args.steps,
        "runs": args.runs,
        "input_size": [width, height],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d"),
        "tasks": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    header = "task        quality prepare_s  edit_s  edit_s(cached)  fwd(+prepare)  bwd  work"
    print(header)
    for task, cells in rows.items():
        for quality in qualities:
            r = cells[quality]
            forwards = f"{r['unet_forward_cached']:4d} (+{r['prepare_unet_forward']})"
            print(
                f"{task:<11} {quality:<7} {r['prepare_s']:9.2f} {r['edit_s']:7.2f} "
                f"{r['edit_s_cached']:15.2f}  {forwards}  {r['unet_backward']:4d}  "
                f"{r['unet_work']:4d}"
            )
        print(
            f"{task:<11} fast/full: time {cells['fast_full_time']:.2f}, "
            f"work {cells['fast_full_work']:.2f}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
