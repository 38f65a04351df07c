"""The face task's mechanism on toy objects: many-point drag without a mask (landmark mode).

    python bench/landmark_toy.py [--scenes 8] [--steps 50]   # bench/results/landmark_toy.md

Faces need real weights; the toy model (models/toy) shows instead whether landmark guidance
(the edit energy alone, no mask, no content energy: `FaceEdit`) moves an object's content
with its points. The cases are bench/quality.py's held-out drag cases (an object dragged by
an offset, the truth re-rendered); each runs three ways:
- "drag, 3 handles, region mask": the drag task as in the quality table;
- "landmark mode, N handles, no mask": HANDLES points spread over the object (two rings),
  all dragged by the offset, as a face's 68 points are, on the face task's crop;
- the same with guidance off (strength 0): what the guidance itself does.
Scored with quality.py's metrics: handle tracking (px between each target and where its
handle's content landed), IoU of the object, PSNR of the background.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # bench/quality.py: its cases and metrics

from diffeditor_app.engine import Editor, ModelSpec, Point, load_model
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.tasks.face import FaceEdit

REPO = Path(__file__).resolve().parents[1]
HANDLES = 12  # points per object: 8 on an outer ring, 4 on an inner one
RINGS = ((8, 1.0), (4, 0.5))  # (points, share of the handle reach)
ROWS = ("drag, 3 handles, region mask", "landmark mode, no mask", "landmark mode, guidance off")
METRICS = ("track_px", "iou", "psnr_background")


def spread(case: quality.Case) -> list[tuple[int, int]]:
    """Handles inside the object on two rings around its centre."""
    obj = case.scene.objects[case.target]
    inside = case.scene.render().masks[case.target]
    reach = max(1.0, obj.radius - quality.HANDLE_INSET)
    points = []
    for count, share in RINGS:
        for k in range(count):
            angle = 2 * math.pi * (k + 0.5 * share) / count
            x = int(obj.x + share * reach * math.cos(angle))
            y = int(obj.y + share * reach * math.sin(angle))
            if 0 <= y < inside.shape[0] and 0 <= x < inside.shape[1] and inside[y, x]:
                points.append((x, y))
    return points


def landmark_request(case: quality.Case, steps: int) -> FaceEdit | None:
    handle, target = case.request.pairs[0]
    dx, dy = target.x - handle.x, target.y - handle.y
    handles = spread(case)
    if len(handles) < 3:
        return None
    mask = case.scene.render().masks[case.target]
    rows, cols = np.nonzero(mask)
    request = FaceEdit(
        image=case.request.image,
        pairs=tuple((Point(x, y), Point(x + dx, y + dy)) for x, y in handles),
        face_box=(float(cols.min()), float(rows.min()), cols.max() + 1.0, rows.max() + 1.0),
        prompt=case.scene.caption,
        steps=steps,
    )
    try:
        request.validate()
    except InvalidInput:  # a target off the image or off the crop: not this case
        return None
    return request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "models" / "toy"))
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "landmark_toy.json"
    )
    args = parser.parse_args(argv)
    editor = Editor(load_model(ModelSpec(args.model, device="cpu")))
    results: dict[str, list[dict]] = {row: [] for row in ROWS}
    for case in quality.cases_for("drag", args.scenes * 2):
        if len(results[ROWS[0]]) == args.scenes:
            break
        landmark = landmark_request(case, args.steps)
        if landmark is None:
            continue
        requests = {
            ROWS[0]: replace(case.request, steps=args.steps),
            ROWS[1]: landmark,
            ROWS[2]: replace(landmark, overrides={"guidance_strength": 0.0}),
        }
        for row, request in requests.items():
            out = np.asarray(editor.edit(request).image.convert("RGB"))
            metrics = quality.measure(replace(case, request=request), out)
            results[row].append({"index": case.index, "handles": len(request.pairs), **metrics})
            print(row, case.index, json.dumps(results[row][-1]), file=sys.stderr)
    summary = {
        row: {
            name: round(statistics.fmean(r[name] for r in rows if not math.isnan(r[name])), 3)
            for name in (*METRICS, "handles")
        }
        for row, rows in results.items()
    }
    model = Path(args.model).resolve()
    shown = str(model.relative_to(REPO)) if model.is_relative_to(REPO) else args.model
    report = {"model": shown, "steps": args.steps, "summary": summary, "rows": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    lines = ["| way | handles | track px | IoU | PSNR background |", "|---|---|---|---|---|"]
    for row, s in summary.items():
        lines.append(
            f"| {row} | {s['handles']} | {s['track_px']} | {s['iou']} | {s['psnr_background']} |"
        )
    table = "\n".join(lines)
    scenes = len(results[ROWS[0]])
    args.out.with_suffix(".md").write_text(
        "# Landmark mode on toy objects\n\n"
        f"{scenes} held-out drag cases of bench/quality.py, toy model, {args.steps} steps; "
        "means over the cases (`python bench/landmark_toy.py "
        f"--scenes {args.scenes} --steps {args.steps}`).\n\n" + table + "\n"
    )
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
