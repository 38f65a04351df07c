"""Engine speed and memory at full size on a GPU: prepare_s, edit_s, peak memory, UNet calls.

    python bench/engine_gpu.py                      # CUDA, SD1.5 size; one H100: ~6 minutes
    python bench/engine_gpu.py --device cpu --tiny  # the plan on the tiny model, 1 run (CI smoke)

The models are the SD1.5 architecture from `models/sd15` (UNet, VAE, text encoder) plus a
ViT-H/14-sized CLIP vision tower and the full-size image-prompt modules, all with random
weights: the arithmetic of the real weights, with no download. Every case edits fresh images
(prepare runs every time) after a short warm-up at the same size; times are medians of the
timed runs, with `torch.cuda.synchronize` around each edit, and the peak is
`torch.cuda.max_memory_allocated` over the case. Modes:

    fast       the defaults: fp16 on CUDA, `auto` memory preset, prepared state cached
    reference  fp32, the `high` preset, nothing cached (the reference code's structure as far
               as this engine can express it; it cannot load the reference's second UNet)
    low        `fast` with the `low` preset; cpu-offload: with `cpu-offload`
    compile    `fast` with the UNet compiled; its warm-up is a full edit and includes compiling

Every case runs the edit's `full` quality (the paper's method) unless it names `fast` (the
fast quality, ALGORITHM.md §4.9); the fast-quality cases give the fast/full time ratio per
task on the same card, beside the ratio of their counted UNet work.

Cases run in priority order; one whose estimated time would pass `--budget-s` (counted from
the start of this process) is skipped and listed as such, so the run fits its time slot.
Results go to JSON and a markdown table under bench/results/; the fast/reference ratios and
the issue's targets are printed at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from diffeditor_app.engine.editor import Editor, EditResult
from diffeditor_app.engine.models.loading import MODELS_DIR, place_model, resolve_dtype
from diffeditor_app.engine.models.memory import memory_plan, release_memory, synchronize
from diffeditor_app.engine.models.model import LoadedModel
from diffeditor_app.engine.models.testing import (
    TINY_PROFILE,
    TINY_RESAMPLER,
    add_random_image_prompt,
    build_random_model,
    scene_requests,
    tinted_scene,
    write_tiny_model,
)
from diffeditor_app.engine.requests import EditRequest

START = time.perf_counter()
GB = 1e9  # memory in decimal gigabytes, as the targets are written
WARMUP_STEPS = 5  # same shapes and kernels as a full edit, a tenth of its time
COMPILE_RESERVE_S = 150.0  # budget a compile case needs at its start: compiling is unbounded
TINY_SIZES = {512: 64, 768: 96}  # --tiny: the tiny model's sizes standing for SD's
RESULTS = Path("bench/results")


@dataclass(frozen=True)
class Mode:
    """How the model is built and the editor run for one column of the results."""

    name: str
    dtype: str  # as ModelSpec.dtype: auto is fp16 on CUDA, fp32 on the CPU
    vram_preset: str  # as ModelSpec.vram_preset
    cache: bool  # the editor keeps prepared images (a re-edit skips prepare)
    compile_unet: bool = False


MODES = {
    "fast": Mode("fast", "auto", "auto", cache=True),
    "reference": Mode("reference", "fp32", "high", cache=False),
    "low": Mode("low", "auto", "low", cache=True),
    "cpu-offload": Mode("cpu-offload", "auto", "cpu-offload", cache=True),
    "compile": Mode("compile", "auto", "auto", cache=True, compile_unet=True),
}


@dataclass(frozen=True)
class Case:
    task: str  # a key of `scene_requests`
    size: int  # nominal working resolution (SD1.5 pixels; --tiny maps it to TINY_SIZES)
    mode: str  # a key of MODES
    quality: str = "full"  # the request's quality (ALGORITHM.md §4.9)


# Priority order (docs/ENGINE-NOTES.md, The GPU benchmark: 512 px for every task, 768 px for
# drag only, reference mode for drag at 512 only); the last two are extras that run when the
# budget allows.
CASES = (
    Case("drag", 512, "fast"),
    Case("drag", 512, "reference"),
    Case("move", 512, "fast"),
    Case("appearance", 512, "fast"),
    Case("paste", 512, "fast"),
    *(Case(task, 512, "fast", quality="fast") for task in ("drag", "move", "appearance", "paste")),
    Case("drag", 768, "fast"),
    Case("drag", 768, "low"),
    Case("drag", 512, "cpu-offload"),
    Case("drag", 512, "compile"),
)

# The targets, for one H100 or H200 at full size: (what, case, field, limit).
TARGETS = (
    ("drag prepare <= 1.0 s", Case("drag", 512, "fast"), "prepare_s", 1.0),
    ("drag edit <= 3.5 s", Case("drag", 512, "fast"), "edit_s", 3.5),
    *(
        (f"{task} peak <= 6 GB at 512", Case(task, 512, "fast"), "peak_gb", 6.0)
        for task in ("move", "drag", "appearance", "paste")
    ),
    ("drag peak <= 9 GB at 768", Case("drag", 768, "fast"), "peak_gb", 9.0),
    ("drag peak <= 5.5 GB at 768, preset low", Case("drag", 768, "low"), "peak_gb", 5.5),
)
SPEEDUP_TARGET = 3.0  # fast at least 3x faster than reference (prepare + edit, same card)


def key(case: Case) -> str:
    quality = "" if case.quality == "full" else f"-{case.quality}-quality"
    return f"{case.task}-{case.size}-{case.mode}{quality}"


def build_model(mode: Mode, device: torch.device, tiny_folder: Path | None) -> LoadedModel:
    """Random weights at full size (or tiny), placed as the mode's memory preset wants; the
    preset is settled before the build, as `load_model` does, so `auto` sees an empty card."""
    dtype = resolve_dtype(mode.dtype, device)
    plan = memory_plan(mode.vram_preset, device)
    folder = tiny_folder or MODELS_DIR / "sd15"
    profile = TINY_PROFILE if tiny_folder else None
    model = build_random_model(folder, device, dtype, profile=profile)
    add_random_image_prompt(
        model, folder / "image_encoder", TINY_RESAMPLER if tiny_folder else None
    )
    place_model(model, device, plan)
    if mode.compile_unet:
        model.unet.compile()
    return model


def request_for(case: Case, size: int, run: int, steps: int) -> EditRequest:
    """The case's request on a scene no other case or run has prepared."""
    image, mask = tinted_scene(CASES.index(case) * 1000 + run, size, size)
    request = scene_requests(image, mask, steps)[case.task]
    return dataclasses.replace(request, resolution=size, quality=case.quality)


def timed(editor: Editor, request: EditRequest) -> tuple[EditResult, float]:
    """One edit, with the device's queue drained on both sides of the clock."""
    device = editor.model.device
    synchronize(device)
    start = time.perf_counter()
    result = editor.edit(request)
    synchronize(device)
    return result, time.perf_counter() - start


def run_case(
    editor: Editor, case: Case, size: int, steps: int, runs: int, budget_s: float
) -> dict[str, Any]:
    """Warm-up, then `runs` timed edits of fresh images (and, with a cache, one re-edit)."""
    device, mode = editor.model.device, MODES[case.mode]
    left = budget_s - (time.perf_counter() - START)
    if mode.compile_unet and left < COMPILE_RESERVE_S:
        return {"skipped": f"time budget: {left:.0f} s left, compiling wants {COMPILE_RESERVE_S:g}"}
    warmup_steps = steps if mode.compile_unet else min(WARMUP_STEPS, steps)
    _, warmup_s = timed(editor, request_for(case, size, -1, warmup_steps))
    estimate = warmup_s * steps / warmup_steps * (runs + mode.cache)
    left = budget_s - (time.perf_counter() - START)
    if estimate > left:
        return {"skipped": f"time budget: about {estimate:.0f} s needed, {left:.0f} s left"}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    samples = [timed(editor, request_for(case, size, run, steps)) for run in range(runs)]
    first = samples[0][0]
    row: dict[str, Any] = {
        "warmup_s": warmup_s,
        "prepare_s": statistics.median(r.prepare_s for r, _ in samples),
        "edit_s": statistics.median(r.edit_s for r, _ in samples),
        "total_s": statistics.median(wall for _, wall in samples),
        "unet_forward": first.unet_forward,
        "prepare_unet_forward": first.prepare_unet_forward,
        "unet_backward": first.unet_backward,
        "unet_work": first.unet_work,
        "quality": first.quality,
        "steps": first.steps,
        "working_size": list(first.working_size),
        "dtype": first.dtype,
        "preset": editor.model.memory.preset.value,
    }
    if mode.cache:  # the last image again: prepare and reference features come from the cache
        again, _ = timed(editor, request_for(case, size, runs - 1, steps))
        row["edit_s_cached"] = again.edit_s
        row["unet_forward_cached"] = again.unet_forward
        row["bank_gb"] = next(reversed(editor.cache.values())).bank.nbytes() / GB
    if device.type == "cuda":
        row["peak_gb"] = torch.cuda.max_memory_allocated(device) / GB
    return row


def ratios(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """reference / fast for times (a speed-up) and fast / reference for the peak memory."""
    out = {}
    for case in CASES:
        fast = rows.get(key(case), {})
        reference = rows.get(key(dataclasses.replace(case, mode="reference")), {})
        if case.mode != "fast" or "edit_s" not in fast or "edit_s" not in reference:
            continue
        entry = {
            name: reference[name] / fast[name]
            for name in ("prepare_s", "edit_s", "total_s")
            if fast[name] > 0
        }
        if "peak_gb" in fast and "peak_gb" in reference:
            entry["peak_memory_fast_over_reference"] = fast["peak_gb"] / reference["peak_gb"]
        out[f"{case.task}-{case.size}"] = entry
    return out


def quality_ratios(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """fast / full quality for time and for counted UNet work, per task on the same card."""
    out = {}
    for case in CASES:
        fast = rows.get(key(case), {})
        full = rows.get(key(dataclasses.replace(case, quality="full")), {})
        if case.quality != "fast" or "total_s" not in fast or "total_s" not in full:
            continue
        out[f"{case.task}-{case.size}"] = {
            "total_s": fast["total_s"] / full["total_s"],
            "unet_work": fast["unet_work"] / full["unet_work"],
        }
    return out


def check_targets(
    rows: dict[str, dict[str, Any]], speedups: dict[str, dict[str, float]], applies: bool
) -> list[dict[str, Any]]:
    """Each target with what was measured and whether it holds; `met` is None when it was
    not measured, or when the run is not the full-size CUDA run the targets are written for."""
    checked = []
    for what, case, name, limit in TARGETS:
        value = rows.get(key(case), {}).get(name)
        met = value <= limit if applies and value is not None else None
        checked.append({"target": what, "measured": value, "met": met})
    speedup = speedups.get("drag-512", {}).get("total_s")
    met = speedup >= SPEEDUP_TARGET if applies and speedup is not None else None
    what = f"fast >= {SPEEDUP_TARGET:g}x faster than reference (drag 512, total)"
    checked.append({"target": what, "measured": speedup, "met": met})
    return checked


def markdown(report: dict[str, Any]) -> str:
    """The results as markdown tables: cases, ratios, targets."""

    def number(value: Any, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = [
        f"# engine_gpu: {report['device_name']} ({report['model']})",
        "",
        f"{report['date']}, torch {report['torch']}, diffusers {report['diffusers']}, "
        f"{report['steps']} steps, median of {report['runs']} runs after a warm-up; "
        f"whole run {report['elapsed_s']:.0f} s.",
        "",
        "| task | px | mode | dtype | preset | working | prepare s | edit s | total s "
        "| edit s (cached) | peak GB | UNet fwd (prepare) | bwd | warm-up s | quality | work |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        row = report["cases"].get(key(case))
        if row is None:
            continue
        if "skipped" in row or "failed" in row:
            why = f"skipped: {row['skipped']}" if "skipped" in row else f"failed: {row['failed']}"
            lines.append(f"| {case.task} | {case.size} | {case.mode} | {why} |")
            continue
        width, height = row["working_size"]
        lines.append(
            f"| {case.task} | {case.size} | {case.mode} | {row['dtype']} | {row['preset']} "
            f"| {width}x{height} | {number(row['prepare_s'])} | {number(row['edit_s'])} "
            f"| {number(row['total_s'])} | {number(row.get('edit_s_cached'))} "
            f"| {number(row.get('peak_gb'))} "
            f"| {row['unet_forward']} ({row['prepare_unet_forward']}) "
            f"| {row['unet_backward']} | {number(row['warmup_s'])} | {row['quality']} "
            f"| {row['unet_work']} |"
        )
    if report["ratios"]:
        lines += [
            "",
            "| reference / fast | prepare | edit | total | peak memory fast/ref |",
            "|---|---|---|---|---|",
        ]
        for name, r in report["ratios"].items():
            lines.append(
                f"| {name} | {number(r.get('prepare_s'))}x | {number(r.get('edit_s'))}x "
                f"| {number(r.get('total_s'))}x "
                f"| {number(r.get('peak_memory_fast_over_reference'))} |"
            )
    if report.get("quality_ratios"):
        lines += ["", "| fast / full quality | total time | UNet work |", "|---|---|---|"]
        for name, r in report["quality_ratios"].items():
            lines.append(f"| {name} | {number(r['total_s'])} | {number(r['unet_work'])} |")
    lines += [
        "",
        f"Targets ({report['targets_apply']}):",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for target in report["targets"]:
        met = {True: "yes", False: "NO", None: "-"}[target["met"]]
        lines.append(f"| {target['target']} | {number(target['measured'])} | {met} |")
    return "\n".join(lines) + "\n"


def summary(
    rows: dict[str, dict[str, Any]], device: torch.device, args: argparse.Namespace
) -> dict[str, Any]:
    """Cases, ratios, targets and what they were measured with."""
    import diffusers

    full_size = device.type == "cuda" and not args.tiny
    speedups = ratios(rows)
    return {
        "benchmark": "engine_gpu",
        "model": (
            "SD1.5 + ViT-H/14 + image prompt, random weights"
            if not args.tiny
            else "tiny random SD1.x (engine/models/testing.py)"
        ),
        "device": str(device),
        "device_name": (
            torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
        ),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d"),
        "steps": args.steps,
        "runs": args.runs,
        "elapsed_s": time.perf_counter() - START,
        "cases": rows,
        "ratios": speedups,
        "quality_ratios": quality_ratios(rows),
        "targets_apply": "full size on one H100 or H200" + ("" if full_size else ": not this run"),
        "targets": check_targets(rows, speedups, applies=full_size),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (the benchmark) or cpu")
    parser.add_argument("--tiny", action="store_true", help="the tiny model (smoke test)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--runs", type=int, default=None, help="timed edits per case (3; 1 tiny)")
    parser.add_argument("--budget-s", type=float, default=400.0, help="skip cases past this")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (markdown beside it)")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.tiny else 3  # the smoke run stays near a minute on two cores
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA GPU here; use --device cpu --tiny for the smoke run")
    name = "engine_gpu" + ("_tiny" if args.tiny else "") + ("_cpu" if device.type == "cpu" else "")
    out = args.out or RESULTS / f"{name}.json"
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        tiny_folder = write_tiny_model(Path(scratch) / "tiny") if args.tiny else None
        model_mode, editor = None, None
        for case in CASES:
            mode = MODES[case.mode]
            try:
                if mode.compile_unet and device.type == "cpu":
                    row = {"skipped": "compiling is measured on CUDA only"}
                else:
                    if mode is not model_mode:
                        editor, model_mode = None, None
                        release_memory()  # one model at a time, as the app holds it
                        model = build_model(mode, device, tiny_folder)
                        editor = Editor(model, cache_size=2 if mode.cache else 0)
                        model_mode, model = mode, None  # the editor is the one owner
                    size = TINY_SIZES[case.size] if args.tiny else case.size
                    row = run_case(editor, case, size, args.steps, args.runs, args.budget_s)
            except Exception as error:  # an out-of-memory case is a result; the rest still run
                message = (str(error).strip().splitlines() or [""])[0]
                row = {"failed": f"{type(error).__name__}: {message}"}
                editor, model_mode = None, None
            rows[key(case)] = row
            print(f"{key(case)}: {json.dumps(row)}", flush=True)
            write(summary(rows, device, args), out)  # a run cut short keeps what it measured
    print(markdown(summary(rows, device, args)))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


def write(report: dict[str, Any], out: Path) -> None:
    """JSON and markdown, each replaced whole, so a run stopped mid-write leaves the last."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, text in (
        (out, json.dumps(report, indent=2) + "\n"),
        (out.with_suffix(".md"), markdown(report)),
    ):
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text)
        partial.replace(path)


if __name__ == "__main__":
    sys.exit(main())
