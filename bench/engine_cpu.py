"""Engine cost on the tiny random model, every task: prepare_s, edit_s, UNet evaluations.

    python bench/engine_cpu.py [--runs 3] [--steps 50] [--out bench/results/engine_cpu.json]

Each run edits a fresh image, so prepare is measured every time (a cached second edit is
reported separately as `edit_s_cached`). Times are medians over the runs; the machine is
shared, so compare ratios from one run, not numbers across days.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from diffeditor_app.engine import Editor, ModelSpec, load_model
from diffeditor_app.engine.models.testing import scene_requests, tinted_scene, write_tiny_model


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
    rows = {}
    for task in ("move", "resize", "drag", "appearance", "paste"):
        samples = []
        for run in range(args.runs):
            image, mask = tinted_scene(run + 1000 * len(rows), width, height)
            first = editor.edit(scene_requests(image, mask, args.steps)[task])
            again = editor.edit(scene_requests(image, mask, args.steps)[task])
            samples.append((first, again))
        rows[task] = {
            "prepare_s": statistics.median(f.prepare_s for f, _ in samples),
            "edit_s": statistics.median(f.edit_s for f, _ in samples),
            "edit_s_cached": statistics.median(a.edit_s for _, a in samples),
            "unet_forward": samples[0][0].unet_forward,
            "prepare_unet_forward": samples[0][0].prepare_unet_forward,
            "unet_forward_cached": samples[0][1].unet_forward,
            "unet_backward": samples[0][0].unet_backward,
            "working_size": list(samples[0][0].working_size),
        }
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
    header = "task        prepare_s  edit_s  edit_s(cached)  fwd(+prepare)  bwd"
    print(header)
    for task, r in rows.items():
        forwards = f"{r['unet_forward_cached']:4d} (+{r['prepare_unet_forward']})"
        print(
            f"{task:<11} {r['prepare_s']:9.2f} {r['edit_s']:7.2f} {r['edit_s_cached']:15.2f}"
            f"  {forwards}  {r['unet_backward']:4d}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
