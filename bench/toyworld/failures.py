"""How the edits of a quality run fail: each case sorted into one failure mode (issue 12).

    python bench/toyworld/failures.py                       # the held-out table's store
    python bench/toyworld/failures.py --store build/quality/NAME --split train --scenes 20

The quality table's means sit well below its medians because some scenes fail whole. This
reads the images a `bench/quality.py` run kept in its store (no edit is run again) and sorts
every case whose IoU is under FAILED_IOU by what the edited object's true area shows:

- not drawn: mostly what the scene is without the object (the object missing, or left at
  its old place);
- its old colour: an appearance left the object as it was;
- another object's colour: an object was drawn, in the colour of another object of the
  source scene;
- other colour: an object was drawn in a colour of neither;
- misshapen or misplaced: the right colour, but not the right shape or place.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from metrics import SEGMENT_DELTA_E, SHRINK, Colours, delta_e2000, erode, srgb_to_lab
from quality import (
    FULL_SCENES,
    REPO,
    SPLIT_START,
    TASKS,
    Case,
    case_path,
    cases_for,
    load_outputs,
    measure,
)

FAILED_IOU = 0.5  # a case under this IoU failed whole
EMPTY_SHARE = 0.5  # ... and was not drawn when this share of its area shows the background
MODES = (
    "ok",
    "not drawn",
    "its old colour",
    "another object's colour",
    "other colour",
    "misshapen or misplaced",
)


def old_colours(case: Case) -> Colours:
    """What an appearance's object showed before the edit (nothing for other tasks)."""
    return case.scene.objects[case.target].colours() if case.task == "appearance" else ()


def other_colours(case: Case) -> Colours:
    """The colours of the source scene's other objects, apart from the wanted ones."""
    others = (o for i, o in enumerate(case.scene.objects) if i != case.target)
    return tuple(sorted({c for obj in others for c in obj.colours()} - set(case.colours)))


def _within(lab: np.ndarray, colours: Colours) -> bool:
    return bool(
        colours
        and min(float(delta_e2000(lab, srgb_to_lab(np.array(c)))) for c in colours)
        < SEGMENT_DELTA_E
    )


def failure_mode(case: Case, out: np.ndarray, iou: float) -> str:
    """One of MODES for the edited image `out` of `case`."""
    if iou >= FAILED_IOU:
        return "ok"
    expected = case.truth.render().masks[case.target]
    area = erode(expected, SHRINK)
    area = area if area.any() else expected
    lab = srgb_to_lab(out[area])
    empty = delta_e2000(lab, srgb_to_lab(case.background[area])) < SEGMENT_DELTA_E
    if empty.mean() >= EMPTY_SHARE:
        return "not drawn"
    drawn = np.median(lab[~empty], axis=0)
    if _within(drawn, case.colours):
        return "misshapen or misplaced"
    if _within(drawn, old_colours(case)):
        return "its old colour"
    if _within(drawn, other_colours(case)):
        return "another object's colour"
    return "other colour"


def sort_store(store: Path, count: int, split: str, patterned: bool, variant: str) -> dict:
    """Per task: how many cases fall in each mode, with the mean IoU of all and of the ok
    cases (the mean the task would have if no scene failed whole)."""
    report: dict[str, dict] = {}
    for task in TASKS:
        modes: Counter[str] = Counter()
        ious, kept = [], []
        for position, case in enumerate(cases_for(task, count, split, patterned)):
            outputs = load_outputs(case_path(store, task, position))
            if variant not in outputs:
                continue
            out = outputs[variant][0]
            iou = measure(case, out)["iou"]
            mode = failure_mode(case, out, iou)
            modes[mode] += 1
            ious.append(iou)
            if mode == "ok":
                kept.append(iou)
        if ious:
            report[task] = {
                "cases": len(ious),
                "modes": {m: modes[m] for m in MODES},
                "iou": float(np.mean(ious)),
                "iou_ok": float(np.mean(kept)) if kept else float("nan"),
            }
    return report


def markdown(report: dict) -> str:
    head = ["task", "cases", *MODES, "mean IoU", "… of the ok cases"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for task, row in report.items():
        cells = [task, str(row["cases"]), *(str(row["modes"][m]) for m in MODES)]
        cells += [f"{row['iou']:.3f}", f"{row['iou_ok']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=REPO / "build" / "quality" / "quality")
    parser.add_argument("--scenes", type=int, default=FULL_SCENES, help="cases per task")
    parser.add_argument("--split", default="test", choices=sorted(SPLIT_START))
    parser.add_argument("--patterned", action="store_true")
    parser.add_argument("--variant", default="full", help="the quality row to sort")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if not args.store.is_dir():
        parser.error(f"{args.store} is not a store of bench/quality.py: run it first")
    report = sort_store(args.store, args.scenes, args.split, args.patterned, args.variant)
    print(json.dumps(report, indent=1) if args.json else markdown(report), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
