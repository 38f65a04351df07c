"""Selection benchmark: mask IoU against exact truth and seconds per click on the CPU.

    python bench/selection.py [--sizes 1000 2000] [--seeds 3] [--sam-decoder]

Scenes come from engine/selection/scenes.py (a wavy anti-aliased blob; flat colours, or a
striped noisy object on a noisy gradient). The wand is clicked at the object's centre,
GrabCut gets the object's box plus 4 %. SAM has no weights here, so its IoU is unmeasured;
`--sam-decoder` times the per-click decoder of a full-size SAM-ViT-B config with random
weights (the embedding once, then clicks), which says nothing about its masks.
Writes bench/results/selection.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffeditor_app.engine.selection import Method, SelectionPrompt, SelectionRequest, iou, select
from diffeditor_app.engine.selection.scenes import make_scene

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {  # (method, kind) -> (IoU at least, seconds at most, at which side), the issue's
    ("wand", "flat"): (0.97, 0.050, 2000),
    ("grabcut", "textured"): (0.90, 2.0, 1000),
}


def measure(method: Method, kind: str, side: int, seeds: int) -> dict:
    ious, seconds = [], []
    for seed in range(seeds):
        scene = make_scene(kind, side, side, seed=seed)
        if method is Method.WAND:
            prompt = SelectionPrompt((scene.click,))
        else:
            prompt = SelectionPrompt(boxes=(scene.box,))
        start = time.perf_counter()
        result = select(SelectionRequest(scene.rgb, prompt, method))
        seconds.append(time.perf_counter() - start)
        ious.append(iou(result.mask, scene.truth))
    return {
        "method": method.value,
        "kind": kind,
        "side": side,
        "megapixels": round(side * side / 1e6, 2),
        "iou_mean": round(statistics.mean(ious), 4),
        "iou_min": round(min(ious), 4),
        "seconds_median": round(statistics.median(seconds), 4),
        "scenes": seeds,
    }


def sam_decoder(clicks: int = 5) -> dict:
    """Full-size SAM ViT-B architecture, random weights: the embedding once, then clicks."""
    import torch
    from transformers import SamConfig, SamModel

    torch.manual_seed(0)
    model = SamModel(SamConfig()).eval()
    side = model.config.vision_config.image_size
    with torch.no_grad():
        start = time.perf_counter()
        embedding = model.get_image_embeddings(torch.randn(1, 3, side, side))
        embed_s = time.perf_counter() - start
        times = []
        for n in range(clicks):
            points = torch.tensor([[[[100.0 + 50 * n, 400.0]]]])
            start = time.perf_counter()
            model(
                image_embeddings=embedding, input_points=points, input_labels=torch.tensor([[[1]]])
            )
            times.append(time.perf_counter() - start)
    return {
        "embedding_s": round(embed_s, 2),
        "decoder_s_median": round(statistics.median(times), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sam-decoder", action="store_true")
    args = parser.parse_args()
    rows = [
        measure(method, kind, side, args.seeds)
        for method in (Method.WAND, Method.GRABCUT)
        for kind in ("flat", "textured")
        for side in args.sizes
    ]
    report = {
        "command": "python " + " ".join(["bench/selection.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {platform.python_version()}, CPU",
        "rows": rows,
        "sam_decoder_random_weights": sam_decoder() if args.sam_decoder else None,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "selection.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Selection benchmark",
        "",
        f"`{report['command']}` ({report['machine']}; 2 shared cores).",
        "",
        "| method | scene | size | IoU mean (min) | s per click (median) | target |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        target = TARGETS.get((row["method"], row["kind"]))
        goal = ""
        if target and target[2] == row["side"]:
            goal = f"IoU ≥ {target[0]}, ≤ {target[1]} s"
        lines.append(
            f"| {row['method']} | {row['kind']} | {row['megapixels']} MP | {row['iou_mean']} "
            f"({row['iou_min']}) | {row['seconds_median']} | {goal} |"
        )
    lines.append(
        "| sam | any | any | unmeasured (no weights here) | see below | ≤ 0.1 s per click |"
    )
    sam = report["sam_decoder_random_weights"]
    if sam:
        lines += [
            "",
            f"SAM ViT-B architecture with **random weights** (no masks judged): image embedding "
            f"{sam['embedding_s']} s once per image at 1024 px, then {sam['decoder_s_median']} s "
            "per click (prompt encoder + mask decoder), on this CPU.",
        ]
    (RESULTS / "selection.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
