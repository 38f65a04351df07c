"""The quality benchmark's cases: ground truth that agrees with the engine's own geometry,
drawn within the issue's ranges, and a naive baseline measured by the same metrics."""

import math

import pytest
from metrics import dilate, iou
from quality import (
    DRAG_RANGE,
    MOVE_RANGE,
    NAIVE,
    SCALE_RANGE,
    VARIANTS,
    cases_for,
    measure,
    naive,
    summarise,
)

from diffeditor_app.engine.settings import DEFAULTS, Task


@pytest.mark.parametrize("task", ["move", "resize", "drag", "appearance", "paste"])
def test_cases_are_seeded_and_their_truth_matches_the_request(task):
    cases = cases_for(task, 3)
    again = cases_for(task, 3)
    assert [c.index for c in cases] == [c.index for c in again]
    for case in cases:
        request, truth = case.request, case.truth.render().masks[case.target]
        if task == "move":
            assert MOVE_RANGE[0] - 1 <= math.hypot(*request.offset) <= MOVE_RANGE[1] + 1
        if task == "resize":
            assert SCALE_RANGE[0] <= request.scale <= SCALE_RANGE[1]
        if task == "drag":
            ((handle, target),) = request.pairs
            assert case.source_mask[int(handle.y), int(handle.x)]
            assert DRAG_RANGE[0] - 1 <= math.dist(handle, target) <= DRAG_RANGE[1] + 1
            assert request.mask[truth].all() and request.mask[case.source_mask].all()
        if task in ("move", "resize"):
            placed = request.placement().place(case.source_mask)
            assert iou(placed, truth) > 0.85  # the request moves the object as the truth does
        if task == "paste":
            assert iou(request.edit_region(), dilate(truth, 1)) > 0.9
        if task == "appearance":
            assert case.truth.objects[case.target].colour != case.scene.objects[case.target].colour


@pytest.mark.parametrize("task", ["move", "resize", "drag", "appearance", "paste"])
def test_naive_cut_and_paste_scores_near_the_truth(task):
    for case in cases_for(task, 2):
        metrics = measure(case, naive(case))
        assert metrics["iou"] > 0.6
        if "centroid_px" in metrics:
            assert metrics["centroid_px"] < 1.5
        if "delta_e" in metrics:
            assert metrics["delta_e"] < 3


def test_the_unedited_image_scores_badly():
    for case in cases_for("move", 2):
        metrics = measure(case, case.scene.render().rgb)
        assert metrics["iou"] < 0.5 and metrics["centroid_px"] >= MOVE_RANGE[0] - 1


def test_every_ablation_is_a_valid_request_change():
    assert NAIVE not in VARIANTS
    for variant in VARIANTS.values():
        for task in Task:
            DEFAULTS[task].with_overrides(variant.get("overrides", {})).validate()


def test_the_table_gives_mean_and_median_and_skips_empty_regions():
    values = [0.9, 0.8, 0.1, float("nan")]  # one scene with an empty region
    rows = [{"task": "move", "variant": "full", "metrics": {"iou": v}} for v in values]
    cell = summarise(rows)["move"]["full"]
    assert cell["n"] == 4
    assert cell["iou"] == pytest.approx(0.6) and cell["iou_median"] == pytest.approx(0.8)
