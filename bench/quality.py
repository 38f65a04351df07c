"""Edit quality on held-out toy scenes with exact ground truth, per task and ablation.

    python bench/quality.py            # the full table (bench/results/quality.{md,json})
    python bench/quality.py --quick    # 8 scenes per task (about 4 minutes on 2 cores)

Every case is a held-out scene (`scenes.py`, split "test") and an edit whose result is known
exactly: the scene re-rendered with the object moved, scaled, dragged, recoloured or added.
Each case runs through the full method and its ablations (the request's `overrides`), and
through a naive pixel cut-and-paste as a reference point. The metrics are in
`toyworld/metrics.py`. Cases are drawn by seeded rules, never picked by their results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "toyworld"))
from metrics import (
    BACKGROUND_MARGIN,
    SEGMENT_DELTA_E,
    SHRINK,
    Colours,
    centroid_error,
    colour_error,
    colour_segment,
    dilate,
    erode,
    nearest_distance,
    object_pixels,
    paired_interval,
    psnr,
    region_iou,
    scored_region,
    track,
)
from scenes import Scene, random_object, random_scene

from diffeditor_app.engine import Editor, ModelSpec, Point, load_model
from diffeditor_app.engine.imaging.geometry import Placement, bbox_centre
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.method.inversion import decode_latent, encode_image
from diffeditor_app.engine.requests import EditRequest
from diffeditor_app.engine.tasks.appearance import AppearanceEdit
from diffeditor_app.engine.tasks.drag import DragEdit
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.engine.tasks.paste import PasteEdit, paste_map

REPO = Path(__file__).resolve().parents[1]
TASKS = ("move", "resize", "drag", "appearance", "paste")
MOVE_RANGE = (10.0, 40.0)  # move offsets, pixels (issue 6)
SCALE_RANGE = (0.6, 1.5)  # resize factors (issue 6)
DRAG_RANGE = (6.0, 16.0)  # drag distances, pixels
MASK_GROW = 1  # pixels a painted object mask reaches past the exact one (anti-aliased edges)
DRAG_REGION_GROW = 4  # pixels the drag's editable region reaches around old and new object
DRAG_HANDLES = 3  # handles per drag, spread around the object (issue 12)
HANDLE_INSET = 3  # ... this many pixels inside the object's radius: the tracked patch
# (metrics.TRACK_PATCH) then holds part of the outline, which shows where the content is
TRACK_MARGIN = 4  # pixels the handle search reaches past the drag's own length
FULL_SCENES = 40  # held-out scenes per task in the full table (issue 6)
QUICK_SCENES = 8  # ... and with --quick
CASE_TRIES = 40  # random draws per case before moving on to the next scene
TASK_SEED_STRIDE = 10_000  # held-out scene indices of each task start this far apart
SPLIT_START = {"test": 0, "train": 500_000}  # training-split cases lie past every trained scene

EDIT_ENERGY_ONLY = {"w_content": 0.0, "w_contrast": 0.0, "w_inpaint": 0.0}
VARIANTS: dict[str, dict] = {
    "full": {},
    "fast": {"quality": "fast"},  # about a third of the UNet work (ALGORITHM.md §4.9)
    "no image prompt": {"image_prompt": False},
    "no regional SDE": {"overrides": {"eta_in": 0.0, "eta_out": 0.0}},
    "no time travel": {"overrides": {"schedule": {"time_travel_passes": 1}}},
    "global guidance": {"overrides": {"regional_guidance": False}},
    "guidance off": {"overrides": {"guidance_strength": 0.0}},
    "no memory bank": {"overrides": {"bank_mode": "off"}},
    # the paper's own test of regional guidance (its Fig. 11): the content energy removed, so
    # that only where the edit gradient acts tells the background apart
    "edit energy only": {"overrides": EDIT_ENERGY_ONLY},
    "edit energy only (global)": {"overrides": {**EDIT_ENERGY_ONLY, "regional_guidance": False}},
    # the image prompt where no text names the reference's content: a user who types nothing
    "no text prompts": {"prompt": "", "reference_prompt": ""},
    "no prompts at all": {
        "prompt": "",
        "reference_prompt": "",
        "image_prompt": False,
    },
}
VARIANT_TASKS = {  # variants that only some tasks run (the rest run on every task)
    "no text prompts": ("appearance", "paste"),
    "no prompts at all": ("appearance", "paste"),
}
PAIRED_WITH = {
    "no prompts at all": "no text prompts",
    "edit energy only (global)": "edit energy only",
}  # else against "full"
NAIVE = "naive cut-and-paste"
EXACT = "ceiling: exact truth"  # the metric on the truth itself
ROUND_TRIP = "ceiling: VAE round trip"  # ... and on the truth through the model's VAE
REFERENCE_ROWS = (NAIVE, EXACT, ROUND_TRIP)
KEY_METRICS = {  # the metrics the paired differences are reported on
    "move": ("iou", "psnr_vacated", "psnr_background"),
    "resize": ("iou", "psnr_vacated", "psnr_background"),
    "drag": ("iou", "track_px", "psnr_background"),
    "appearance": ("iou", "delta_e", "psnr_background"),
    "paste": ("iou", "delta_e", "psnr_background"),
}


@dataclass
class Case:
    """One edit with its ground truth: `target` is the edited object's index in `truth`."""

    task: str
    index: int
    scene: Scene
    truth: Scene
    target: int
    request: EditRequest
    colours: Colours  # the colours the edited object must show afterwards
    lookalikes: np.ndarray = field(repr=False)  # other objects of a similar colour in the truth
    source_mask: np.ndarray = field(repr=False)  # where the edited object was (or nothing)
    background: np.ndarray = field(repr=False)  # the truth without the edited object


def fits(scene: Scene, moved: Scene, target: int) -> bool:
    """The edited object stays inside the frame and clear of every other object."""
    obj = moved.objects[target]
    inside = obj.radius + 1 <= obj.x <= scene.side - obj.radius - 1
    inside = inside and obj.radius + 1 <= obj.y <= scene.side - obj.radius - 1
    return inside and all(
        math.hypot(obj.x - o.x, obj.y - o.y) >= obj.radius + o.radius + 2
        for i, o in enumerate(moved.objects)
        if i != target
    )


def lookalikes(truth: Scene, target: int) -> np.ndarray:
    """Other objects with a colour the segmentation would take for one of the target's."""
    render = truth.render()
    colours = truth.objects[target].colours()
    masks = [
        m
        for i, m in enumerate(render.masks)
        if i != target
        and nearest_distance(np.array(truth.objects[i].colours()), colours).min() < SEGMENT_DELTA_E
    ]
    return dilate(np.logical_or.reduce(masks), 1) if masks else np.zeros_like(render.masks[0])


def stands_out(scene: Scene, colours: Colours) -> bool:
    """Whether no pixel of the scene's background is within the segmentation threshold of
    the `colours`: only then can the colour test find the object (white on beige cannot
    be)."""
    pixels = np.unique(scene.background.draw(scene.side).reshape(-1, 3).round(), axis=0)
    return bool(nearest_distance(pixels, colours).min() >= SEGMENT_DELTA_E)


def spread_handles(obj, rng: np.random.Generator) -> list[tuple[int, int]]:
    """DRAG_HANDLES points inside the object, evenly spaced in angle around its centre, so
    a drag that stretches the object instead of moving it misplaces some of them."""
    start = rng.uniform(0, 2 * math.pi)
    reach = max(1.0, obj.radius - HANDLE_INSET)
    return [
        (
            int(obj.x + reach * math.cos(start + 2 * math.pi * k / DRAG_HANDLES)),
            int(obj.y + reach * math.sin(start + 2 * math.pi * k / DRAG_HANDLES)),
        )
        for k in range(DRAG_HANDLES)
    ]


def image_of(scene: Scene, name: str) -> SourceImage:
    return SourceImage(scene.render().rgb, name=name)


def draw_case(
    task: str, index: int, rng: np.random.Generator, split: str = "test", patterned: bool = False
) -> Case | None:
    """A case for the scene, or None when no draw of the rules fits it."""
    scene = random_scene(split, SPLIT_START[split] + index, patterned=patterned)
    render = scene.render()
    image = image_of(scene, f"test-{index}")
    for _ in range(CASE_TRIES):
        target = int(rng.integers(len(scene.objects)))
        obj = scene.objects[target]
        mask = dilate(render.masks[target], MASK_GROW)
        colours = obj.colours()
        if not stands_out(scene, colours):
            continue
        if task in ("move", "drag"):
            low, high = MOVE_RANGE if task == "move" else DRAG_RANGE
            angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(low, high)
            dx, dy = round(length * math.cos(angle)), round(length * math.sin(angle))
            truth = scene.moved(target, dx, dy)
            if not fits(scene, truth, target):
                continue
            if task == "move":
                request = MoveEdit(image=image, mask=mask, offset=(dx, dy), prompt=scene.caption)
            else:
                handles = spread_handles(obj, rng)
                if not all(render.masks[target][y, x] for x, y in handles):
                    continue  # a thin shape (ring, cross) without object under a handle
                region = dilate(
                    render.masks[target] | truth.render().masks[target], DRAG_REGION_GROW
                )
                pairs = tuple((Point(x, y), Point(x + dx, y + dy)) for x, y in handles)
                request = DragEdit(image=image, mask=region, pairs=pairs, prompt=scene.caption)
        elif task == "resize":
            factor = float(rng.uniform(*SCALE_RANGE))
            cx, cy = bbox_centre(mask)
            scaled = scene.scaled(target, factor)
            truth = scaled.moved(target, (cx - obj.x) * (1 - factor), (cy - obj.y) * (1 - factor))
            if not fits(scene, truth, target):
                continue
            request = MoveEdit(image=image, mask=mask, scale=factor, prompt=scene.caption)
        else:
            reference = random_scene(
                split, SPLIT_START[split] + index + TASK_SEED_STRIDE // 2, patterned=patterned
            )
            ref_target = int(rng.integers(len(reference.objects)))
            ref_obj = reference.objects[ref_target]
            ref_mask = dilate(reference.render().masks[ref_target], MASK_GROW)
            ref_image = image_of(reference, f"reference-{index}")
            colours = ref_obj.colours()
            if not stands_out(scene, colours):
                continue
            if task == "appearance":
                if ref_obj.colours() == obj.colours():
                    continue
                truth = scene.recoloured(target, ref_obj.colour, ref_obj.pattern)
                # prompts as a user types them: the result's caption, the reference's own
                request = AppearanceEdit(
                    image=image,
                    mask=mask,
                    reference=ref_image,
                    reference_mask=ref_mask,
                    prompt=truth.caption,
                    reference_prompt=reference.caption,
                )
            else:
                placed = random_object(rng, scene.side, scene.objects)
                if placed is None:
                    continue
                # `at` puts the reference's bounding-box centre c at at + 0.5 (paste_map):
                # choose it so the object lands on the drawn centre, shifted by whole pixels.
                cx, cy = bbox_centre(ref_mask)
                dx, dy = round(placed.x - ref_obj.x), round(placed.y - ref_obj.y)
                truth = scene.added(replace(ref_obj, x=ref_obj.x + dx, y=ref_obj.y + dy))
                target = len(truth.objects) - 1
                if not fits(scene, truth, target):
                    continue
                request = PasteEdit(
                    image=image,
                    reference=ref_image,
                    reference_mask=ref_mask,
                    at=(cx - 0.5 + dx, cy - 0.5 + dy),
                    prompt=truth.caption,
                    reference_prompt=reference.caption,
                )
                mask = np.zeros_like(mask)
        return Case(
            task, index, scene, truth, target, request, colours,
            lookalikes(truth, target), render.masks[target] if task != "paste" else mask,
            truth.removed(target).render().rgb,
        )  # fmt: skip
    return None


def cases_for(task: str, count: int, split: str = "test", patterned: bool = False) -> list[Case]:
    """The first `count` cases of a task: held-out scenes for the table, or training-split
    scenes (for choosing a model's settings without looking at the held-out ones)."""
    rng = np.random.default_rng([TASKS.index(task), 2024])
    found: list[Case] = []
    index = TASKS.index(task) * TASK_SEED_STRIDE
    while len(found) < count:
        case = draw_case(task, index, rng, split, patterned)
        if case is not None:
            found.append(case)
        index += 1
    return found


# -- the naive reference point ---------------------------------------------------------------


def fill_hole(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The hole painted with the median colour of a ring around it."""
    ring = dilate(hole, 2) & ~hole
    out = rgb.copy()
    out[hole] = np.median(rgb[ring], axis=0) if ring.any() else rgb[~hole].mean(axis=0)
    return out


def copy_pairs(out: np.ndarray, source: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]) -> None:
    dest, src = pairs
    out.reshape(-1, 3)[dest] = source.reshape(-1, 3)[src]


def naive(case: Case) -> np.ndarray:
    """Cut the pixels and paste them where they belong; fill the hole with its surroundings."""
    request = case.request
    rgb = request.image.rgb
    if isinstance(request, MoveEdit):
        out = fill_hole(rgb, request.mask)
        copy_pairs(out, rgb, request.placement().pairs(request.mask))
        return out
    if isinstance(request, DragEdit):
        handle, target = request.pairs[0]  # the benchmark's drags move every handle alike
        cx, cy = bbox_centre(request.mask)
        shift = Placement(1.0, target.x - handle.x, target.y - handle.y, cx, cy)
        out = fill_hole(rgb, request.mask)
        copy_pairs(out, rgb, shift.pairs(request.mask))
        return out
    if isinstance(request, AppearanceEdit):
        # recolour the pixels of the object's own colour (the mask's median) in the mask
        out = rgb.copy()
        own = colour_segment(rgb, tuple(np.median(rgb[request.mask], axis=0)))
        ref = request.reference.rgb[request.reference_mask]
        out[request.mask & own] = np.median(ref, axis=0)
        return out
    out = rgb.copy()
    pairs = paste_map(request).pairs(request.reference_mask, rgb.shape[:2])
    copy_pairs(out, request.reference.rgb, pairs)
    return out


# -- metrics and the run ---------------------------------------------------------------------


def measure(case: Case, out: np.ndarray) -> dict[str, float]:
    truth = case.truth.render()
    expected = truth.masks[case.target]
    found = object_pixels(out, case.colours, case.background)
    region = scored_region(expected, case.background, case.colours, case.lookalikes)
    row = {"iou": region_iou(found, expected, region)}
    if case.task != "appearance":  # an appearance's stripes may lie anywhere: its ΔE says
        row["psnr_object"] = psnr(out, truth.rgb, erode(expected, SHRINK))
    if case.task in ("move", "resize", "drag"):
        row["centroid_px"] = centroid_error(found & region, expected & region)
    if case.task in ("move", "resize"):
        vacated = case.source_mask & ~dilate(expected, 1)
        row["psnr_vacated"] = psnr(out, truth.rgb, vacated)
        textured = case.scene.background.kind != "plain"
        row["psnr_vacated_textured"] = row["psnr_vacated"] if textured else float("nan")
    if case.task == "drag":
        row["track_px"] = handle_error(case, found)
    if case.task in ("appearance", "paste"):
        row["delta_e"] = colour_error(out, expected, truth.rgb)
    untouched = ~dilate(case.source_mask | expected, BACKGROUND_MARGIN)
    row["psnr_background"] = psnr(out, truth.rgb, untouched)
    return row


def handle_error(case: Case, found: np.ndarray) -> float:
    """Mean pixels between each drag target and where its handle's content landed."""
    errors = []
    for handle, target in case.request.pairs:
        reach = math.ceil(math.dist(handle, target)) + TRACK_MARGIN
        at, to = (int(handle.x), int(handle.y)), (int(target.x), int(target.y))
        errors.append(track(case.source_mask, found, at, to, reach))
    return float(np.mean(errors))


def round_trip(editor: Editor, rgb: np.ndarray) -> np.ndarray:
    """`rgb` through the model's VAE: the best any edit decoded by it can look."""
    model = editor.model
    pixels = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        latent = encode_image(model.vae, pixels.to(model.device), model.latent_scale)
        return decode_latent(model.vae, latent, model.latent_scale)


Output = tuple[np.ndarray, float, int]  # an edited image, its seconds and its unet_work


def run_case(case: Case, variant: str) -> Output:
    if variant == NAIVE:
        return naive(case), 0.0, 0
    if variant == EXACT:
        return case.truth.render().rgb, 0.0, 0
    if variant == ROUND_TRIP:
        return round_trip(editor(), case.truth.render().rgb), 0.0, 0
    change = dict(VARIANTS[variant])
    change["overrides"] = {**case.request.overrides, **change.get("overrides", {})}
    result = editor().edit(replace(case.request, **change))
    seconds = result.prepare_s + result.edit_s
    return np.asarray(result.image.convert("RGB")), seconds, result.unet_work


_model: str = ""  # the model path of this worker process
_editor: Editor | None = None  # ... loaded on its first edit
_cases: dict[tuple[str, int, str, bool], list[Case]] = {}  # ... and the cases it has drawn


def start_worker(model: str) -> None:
    """Each worker process uses one thread: at 64 px, processes scale across cores far
    better than threads inside one UNet call."""
    global _model
    torch.set_num_threads(1)
    _model = model


def editor() -> Editor:
    global _editor
    if _editor is None:
        _editor = Editor(load_model(ModelSpec(_model, device="cpu")))
    return _editor


def fingerprint(model: Path) -> str:
    """A digest of the model folder's files: stored images belong to exactly these weights."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def variants_of(task: str, variants: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v for v in variants if task in VARIANT_TASKS.get(v, (task,)))


def case_path(store: Path, task: str, position: int) -> Path:
    """The file of a store that keeps case `position` of a task's edited images."""
    return store / f"{task}-{position:03d}.npz"


def load_outputs(path: Path) -> dict[str, Output]:
    """The stored images, edit seconds and UNet work of one case, by variant (none before
    its run; a store from before unet_work existed reads it as 0)."""
    if not path.exists():
        return {}
    with np.load(path) as stored:
        names = stored["names"]
        work = stored["work"] if "work" in stored.files else np.zeros(len(names), int)
        return {
            str(name): (image, float(seconds), int(units))
            for name, image, seconds, units in zip(
                names, stored["images"], stored["seconds"], work, strict=True
            )
        }


def save_outputs(path: Path, outputs: dict[str, Output]) -> None:
    names = list(outputs)
    partial = path.with_suffix(".part.npz")
    np.savez_compressed(
        partial,
        names=np.array(names),
        images=np.stack([outputs[n][0] for n in names]),
        seconds=np.array([outputs[n][1] for n in names]),
        work=np.array([outputs[n][2] for n in names]),
    )
    os.replace(partial, path)  # a run cut mid-write leaves the last whole file


@dataclass(frozen=True)
class Job:
    """The variants of one case, as a worker runs them."""

    task: str
    position: int
    count: int
    steps: int
    variants: tuple[str, ...]
    split: str
    overrides: dict
    store: Path
    patterned: bool = False


def evaluate(job: Job) -> list[dict]:
    """The variants on case `position` of a task's `count` cases, each edit run once: its
    image is kept in the store, so a cut run resumes where it stopped and a changed metric
    re-scores every image without editing again. Variants run inner, so the prepared scene
    stays cached."""
    key = (job.task, job.count, job.split, job.patterned)
    if key not in _cases:  # drawn once per worker, not once per case
        _cases[key] = cases_for(*key)
    case = _cases[key][job.position]
    case = replace(case, request=replace(case.request, steps=job.steps, overrides=job.overrides))
    path = case_path(job.store, job.task, job.position)
    outputs = load_outputs(path)
    for variant in variants_of(job.task, job.variants):
        if variant not in outputs:
            outputs[variant] = run_case(case, variant)
            save_outputs(path, outputs)
    return [
        {
            "task": job.task,
            "variant": variant,
            "index": case.index,
            "seconds": outputs[variant][1],
            "unet_work": outputs[variant][2],
            "metrics": measure(case, outputs[variant][0]),
        }
        for variant in variants_of(job.task, job.variants)
    ]


def summarise(rows: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean and median (`NAME_median`) of every metric per task and variant; NaNs, e.g. empty
    regions, left out. The median shows the typical scene: a few scenes where the colour
    segmentation catches the wrong pixels move a mean by pixels even for the naive edit."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows:
        cell = table.setdefault(row["task"], {}).setdefault(row["variant"], {})
        for name, value in row["metrics"].items():
            cell.setdefault(name, []).append(value)  # type: ignore[arg-type]
    for variants in table.values():
        for variant, metrics in variants.items():
            cell: dict[str, float] = {"n": len(next(iter(metrics.values())))}
            for name, values in metrics.items():
                found = not np.all(np.isnan(values))
                cell[name] = float(np.nanmean(values)) if found else float("nan")
                cell[f"{name}_median"] = float(np.nanmedian(values)) if found else float("nan")
            variants[variant] = cell
    return table


UNITS = {
    "iou": "IoU ↑",
    "centroid_px": "centroid err px ↓",
    "track_px": "handle tracking px ↓",
    "psnr_object": "PSNR object dB ↑",
    "psnr_vacated": "PSNR vacated dB ↑",
    "psnr_vacated_textured": "… on striped / gradient ↑",
    "psnr_background": "PSNR background dB ↑",
    "delta_e": "ΔE2000 ↓",
}


def baseline(variant: str) -> str:
    return PAIRED_WITH.get(variant, "full")


def paired(rows: list[dict]) -> dict[str, dict[str, dict[str, tuple[float, float, float]]]]:
    """Per task, ablation and key metric: the mean per-scene difference from its baseline
    ("full" unless PAIRED_WITH says otherwise) and its 95% bootstrap interval. Pairing by
    scene removes the scenes' own spread."""
    by_case: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    for row in rows:
        by_case.setdefault((row["task"], row["index"]), {})[row["variant"]] = row["metrics"]
    out: dict[str, dict[str, dict[str, tuple[float, float, float]]]] = {}
    for task in dict.fromkeys(row["task"] for row in rows):
        cases = [v for (t, _), v in by_case.items() if t == task]
        ablations = [
            v
            for v in VARIANTS
            if v != "full" and cases and all(v in case and baseline(v) in case for case in cases)
        ]
        for variant in ablations:
            for name in KEY_METRICS[task]:
                diffs = [case[variant][name] - case[baseline(variant)][name] for case in cases]
                cell = out.setdefault(task, {}).setdefault(variant, {})
                cell[name] = paired_interval(diffs)
    return out


def command_options(report: dict) -> str:
    """The options of the command that made the report, as typed."""
    options = " --quick" if report["quick"] else ""
    if not report["quick"] and report["scenes"] != FULL_SCENES:
        options += f" --scenes {report['scenes']}"
    if report.get("split", "test") != "test":
        options += f" --split {report['split']}"
    if report.get("patterned"):
        options += " --patterned"
    if report.get("variants"):
        options += f" --variants {','.join(report['variants'])}"
    if report.get("baseline"):
        options += f" --baseline bench/results/{report['baseline']}"
    return options


def overrides_note(overrides: dict | None) -> str:
    return f" with settings {json.dumps(overrides)}" if overrides else ""


def markdown(report: dict) -> str:
    lines = [
        "# Edit quality on toy scenes",
        "",
        f"`python bench/quality.py{command_options(report)}` on {report['date']}: "
        f"model `{report['model']}`, {report['scenes']} "
        f"{'held-out' if report.get('split', 'test') == 'test' else 'training-split'} "
        f"{'patterned ' if report.get('patterned') else ''}"
        f"scenes per task{overrides_note(report.get('overrides'))}, "
        f"{report['steps']} steps, seed {report['seed']}, "
        f"{report['processes']} processes of one thread, "
        f"{report.get('edit_seconds', report['seconds']) / 60:.1f} thread-minutes of edits. "
        "Each cell is the mean (median) over the scenes; "
        "higher ↑ / lower ↓ is better. A pixel is the object when its colour is within "
        "ΔE2000 20 of the object's and nearer to it than to what the truth shows there without "
        "the object. The IoU leaves out a 1 px band around the true outline and pixels whose "
        "true background or neighbour has the object's colour. PSNR object is read inside the "
        "object, off its outline. The ceiling rows score the exact truth and its round trip "
        "through the model's VAE.",
        "",
    ]
    if report.get("baseline"):
        lines[-1:-1] = [
            "",
            f"The full rows are those of `{report['baseline']}` for the same scenes (that run's "
            "s/edit); the s/edit of this run's rows was measured on a machine shared that "
            "day, so compare the UNet work, not these seconds.",
        ]
    for task, variants in report["table"].items():
        names = [n for n in UNITS if n in next(iter(variants.values()))]
        lines += [
            f"## {task}",
            "",
            "| variant | " + " | ".join(UNITS[n] for n in names) + " | s/edit |",
        ]
        lines.append("|---" * (len(names) + 2) + "|")
        for variant, cell in variants.items():
            digits = {n: 3 if n == "iou" else 2 for n in names}
            values = " | ".join(
                f"{cell[n]:.{digits[n]}f} ({cell[f'{n}_median']:.{digits[n]}f})" for n in names
            )
            lines.append(
                f"| {variant} | {values} | {report['seconds_per_edit'][task][variant]:.2f} |"
            )
        lines.append("")
        differences = report["paired"].get(task, {})
        if differences:
            metrics = KEY_METRICS[task]
            lines += [
                "Paired difference from full, or from the row named after ←, (mean [95% "
                "bootstrap interval]); * where the interval excludes zero:",
                "",
                "| ablation | " + " | ".join(f"Δ {UNITS[n]}" for n in metrics) + " |",
                "|---" * (len(metrics) + 1) + "|",
            ]
            for variant, cell in differences.items():
                parts = []
                for n in metrics:
                    mean, low, high = cell[n]
                    star = "*" if low > 0 or high < 0 else ""
                    parts.append(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]{star}")
                against = f" ← {baseline(variant)}" if baseline(variant) != "full" else ""
                lines.append(f"| {variant}{against} | " + " | ".join(parts) + " |")
            lines.append("")
    return "\n".join(lines)


def baseline_rows(report: dict, args: argparse.Namespace, rows: list[dict]) -> list[dict]:
    """The full rows of an earlier report for this run's scenes: the pairing then needs only
    the new rows. The report must share the steps, split, overrides and scene kind."""
    for name in ("steps", "split", "overrides", "patterned"):
        if report.get(name) != getattr(args, name):
            raise SystemExit(
                f"--baseline: its {name} is {report.get(name)!r}, not {getattr(args, name)!r}"
            )
    have = {(row["task"], row["index"]) for row in rows if row["variant"] == "full"}
    wanted = {(row["task"], row["index"]) for row in rows} - have
    found = [
        row
        for row in report["rows"]
        if row["variant"] == "full" and (row["task"], row["index"]) in wanted
    ]
    if len(found) != len(wanted):
        raise SystemExit(f"--baseline: it has full rows for {len(found)} of {len(wanted)} scenes")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 scenes per task")
    parser.add_argument("--scenes", type=int, default=None, help="scenes per task")
    parser.add_argument("--model", default=str(REPO / "models" / "toy"))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument(
        "--split",
        default="test",
        choices=sorted(SPLIT_START),
        help="test: the held-out table; train: scenes for choosing settings",
    )
    parser.add_argument(
        "--overrides",
        type=json.loads,
        default={},
        help='JSON settings applied to every task, e.g. {"guidance_strength": 4}',
    )
    parser.add_argument(
        "--variants",
        default=",".join([*VARIANTS, *REFERENCE_ROWS]),
        help="comma-separated rows to run (default: all)",
    )
    parser.add_argument("--out", type=Path, default=None, help="OUT.md and OUT.json")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--render", type=Path, default=None, help="rewrite OUT.md of OUT.json")
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="folder of the edited images (default build/quality/OUT): a run resumes from it",
    )
    parser.add_argument("--fresh", action="store_true", help="empty the store first")
    parser.add_argument(
        "--patterned", action="store_true", help="scenes with striped objects (scenes.py)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="a report of the same model, steps and split whose full rows pair with this "
        "run's (full then need not run again)",
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        report = json.loads(args.render.read_text())
        report["table"] = summarise(report["rows"])
        report["paired"] = paired(report["rows"])
        args.render.write_text(json.dumps(report, indent=1) + "\n")
        args.render.with_suffix(".md").write_text(markdown(report))
        return 0
    count = args.scenes or (QUICK_SCENES if args.quick else FULL_SCENES)
    out = args.out or REPO / "bench" / "results" / ("quality-quick" if args.quick else "quality")
    started = time.perf_counter()
    tasks = args.tasks.split(",")
    variants = tuple(args.variants.split(","))
    unknown = set(variants) - {*VARIANTS, *REFERENCE_ROWS}
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    store = args.store or REPO / "build" / "quality" / out.name
    made_by = {
        "model": fingerprint(Path(args.model)),
        "steps": args.steps,
        "split": args.split,
        "overrides": args.overrides,
        "patterned": args.patterned,
    }
    if args.fresh and store.exists():
        shutil.rmtree(store)
    store.mkdir(parents=True, exist_ok=True)
    stamp = store / "run.json"
    if stamp.exists() and json.loads(stamp.read_text()) != made_by:
        parser.error(f"{store} holds images of another model or settings: add --fresh")
    stamp.write_text(json.dumps(made_by) + "\n")
    items = [
        Job(task, i, count, args.steps, variants, args.split, args.overrides, store, args.patterned)
        for task in tasks
        for i in range(count)
    ]
    rows: list[dict] = []
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.jobs, initializer=start_worker, initargs=(args.model,)) as pool:
        for done, case_rows in enumerate(pool.imap(evaluate, items), start=1):
            rows += case_rows
            if done % count == 0:
                task = case_rows[0]["task"]
                print(
                    f"{task:<10} {count} scenes {time.perf_counter() - started:7.0f} s", flush=True
                )
    if args.baseline is not None:
        rows += baseline_rows(json.loads(args.baseline.read_text()), args, rows)
    timing: dict[str, dict[str, float]] = {}
    for row in rows:
        timing.setdefault(row["task"], {}).setdefault(row["variant"], []).append(row["seconds"])
    timing = {t: {v: statistics.mean(s) for v, s in cells.items()} for t, cells in timing.items()}
    report = {
        "benchmark": "quality",
        "model": Path(args.model).name,
        "quick": args.quick,
        "scenes": count,
        "steps": args.steps,
        "split": args.split,
        "overrides": args.overrides,
        "patterned": args.patterned,
        "baseline": None if args.baseline is None else args.baseline.name,
        "variants": None if args.variants == parser.get_default("variants") else list(variants),
        "seed": MoveEdit.seed,
        "processes": args.jobs,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
        "seconds": time.perf_counter() - started,
        "edit_seconds": sum(row["seconds"] for row in rows),
        "seconds_per_edit": timing,
        "table": summarise(rows),
        "paired": paired(rows),
        "rows": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
