"""The quality benchmark's cases: ground truth that agrees with the engine's own geometry,
drawn within the issue's ranges, and a naive baseline measured by the same metrics."""

import itertools
import math

import pytest
import quality
from metrics import PSNR_CAP, dilate, iou
from quality import (
    DRAG_HANDLES,
    DRAG_RANGE,
    EXACT,
    KEY_METRICS,
    MOVE_RANGE,
    NAIVE,
    SCALE_RANGE,
    TASKS,
    VARIANTS,
    Job,
    baseline,
    cases_for,
    command_options,
    evaluate,
    fingerprint,
    load_outputs,
    measure,
    naive,
    paired,
    summarise,
)

from diffeditor_app.engine.tasks.registry import DEFAULTS, Task


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
            assert len(request.pairs) == DRAG_HANDLES
            offsets = {(t.x - h.x, t.y - h.y) for h, t in request.pairs}
            assert len(offsets) == 1  # the truth moves the object rigidly
            for handle, target in request.pairs:
                assert case.source_mask[int(handle.y), int(handle.x)]
                assert truth[int(target.y), int(target.x)]
                assert DRAG_RANGE[0] - 1 <= math.dist(handle, target) <= DRAG_RANGE[1] + 1
            handles = [h for h, _ in request.pairs]
            assert min(math.dist(a, b) for a, b in itertools.combinations(handles, 2)) >= 3
            assert request.mask[truth].all() and request.mask[case.source_mask].all()
        if task in ("move", "resize"):
            placed = request.placement().place(case.source_mask)
            assert iou(placed, truth) > 0.85  # the request moves the object as the truth does
        if task == "paste":
            assert iou(request.edit_region(), dilate(truth, 1)) > 0.9
        if task == "appearance":
            assert case.truth.objects[case.target].colour != case.scene.objects[case.target].colour
        if task in ("appearance", "paste"):  # prompts as a user types them
            assert request.prompt == case.truth.caption
            assert request.reference_prompt and request.reference_prompt != request.prompt


@pytest.mark.parametrize("patterned", [False, True], ids=["flat", "patterned"])
@pytest.mark.parametrize("task", TASKS)
def test_the_exact_truth_scores_perfectly(task, patterned):
    """A benchmark that a perfect answer passes (issue 12: at least 0.97)."""
    cases = cases_for(task, 10 if patterned else 6, patterned=patterned)
    if patterned:
        assert any(case.truth.objects[case.target].pattern is not None for case in cases)
    for case in cases:
        metrics = measure(case, case.truth.render().rgb)
        assert metrics["iou"] >= 0.97
        if "psnr_object" in metrics:
            assert metrics["psnr_object"] == PSNR_CAP
        if "centroid_px" in metrics:
            assert metrics["centroid_px"] < 0.5
        if "track_px" in metrics:
            assert metrics["track_px"] <= 1.0
        if "delta_e" in metrics:
            assert metrics["delta_e"] < 1.0


@pytest.mark.parametrize("patterned", [False, True], ids=["flat", "patterned"])
@pytest.mark.parametrize("task", ["move", "resize", "drag", "appearance", "paste"])
def test_naive_cut_and_paste_scores_near_the_truth(task, patterned):
    for case in cases_for(task, 2, patterned=patterned):
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
    for case in cases_for("drag", 2):  # handles that stayed put are a drag's length off
        metrics = measure(case, case.scene.render().rgb)
        handle, target = case.request.pairs[0]
        assert metrics["track_px"] >= math.dist(handle, target) - 2


def test_paired_differences_cover_every_ablation_and_key_metric():
    rows = []
    for index in range(6):
        for variant in VARIANTS:
            better = 0.1 if variant == "full" else 0.0
            metrics = {name: 0.5 + better + 0.01 * index for name in KEY_METRICS["drag"]}
            rows.append({"task": "drag", "variant": variant, "index": index, "metrics": metrics})
        rows.append({"task": "drag", "variant": EXACT, "index": index, "metrics": metrics})
    table = paired(rows)["drag"]
    assert set(table) == set(VARIANTS) - {"full"}
    for variant, cell in table.items():
        expected = -0.1 if baseline(variant) == "full" else 0.0  # both 0.1 below full
        for mean, low, high in cell.values():
            assert mean == pytest.approx(expected) and low == pytest.approx(expected)
            assert high == pytest.approx(expected)
    assert baseline("no prompts at all") == "no text prompts"
    assert baseline("edit energy only (global)") == "edit energy only"


def test_every_ablation_is_a_valid_request_change():
    assert NAIVE not in VARIANTS
    assert not any("," in name for name in VARIANTS)  # --variants is a comma-separated list
    for variant in VARIANTS.values():
        for task in Task:
            DEFAULTS[task].with_overrides(variant.get("overrides", {})).validate()


def test_the_table_gives_mean_and_median_and_skips_empty_regions():
    values = [0.9, 0.8, 0.1, float("nan")]  # one scene with an empty region
    rows = [{"task": "move", "variant": "full", "metrics": {"iou": v}} for v in values]
    cell = summarise(rows)["move"]["full"]
    assert cell["n"] == 4
    assert cell["iou"] == pytest.approx(0.6) and cell["iou_median"] == pytest.approx(0.8)


def test_a_run_keeps_every_image_and_resumes_without_editing_again(tmp_path, monkeypatch):
    store = tmp_path / "store"
    store.mkdir()
    variants = (EXACT, NAIVE, "no text prompts")  # the last is for two-image tasks only
    job = Job("move", 0, 1, 50, variants, "test", {}, store)
    first = evaluate(job)
    assert [row["variant"] for row in first] == [EXACT, NAIVE]
    assert first[0]["metrics"]["iou"] == 1.0
    stored = load_outputs(store / "move-000.npz")
    assert set(stored) == {EXACT, NAIVE}

    def edited_again(case, variant):
        raise AssertionError(f"{variant} ran again")

    monkeypatch.setattr(quality, "run_case", edited_again)
    assert evaluate(job) == first  # everything re-scored from the stored images


def test_the_store_belongs_to_one_model_and_setting(tmp_path):
    model = tmp_path / "model"
    (model / "unet").mkdir(parents=True)
    (model / "unet" / "weights").write_bytes(b"one")
    before = fingerprint(model)
    (model / "unet" / "weights").write_bytes(b"two")
    assert fingerprint(model) != before
    out, store = tmp_path / "q", tmp_path / "store"
    args = ["--scenes", "1", "--tasks", "move", "--variants", EXACT, "--model", str(model)]
    assert quality.main([*args, "--out", str(out), "--store", str(store), "--jobs", "1"]) == 0
    assert "ceiling: exact truth | 1.000 (1.000)" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):  # other steps: the stored images do not belong to them
        quality.main([*args, "--steps", "10", "--out", str(out), "--store", str(store)])
    assert quality.main([*args, "--steps", "10", "--out", str(out), "--store", str(store),
                         "--fresh", "--jobs", "1"]) == 0  # fmt: skip


def test_the_report_names_the_command_that_made_it():
    report = {"quick": False, "scenes": 40, "split": "test"}
    assert command_options(report) == ""
    assert command_options({**report, "scenes": 24}) == " --scenes 24"
    assert command_options({**report, "split": "train", "patterned": True}) == (
        " --split train --patterned"
    )
    assert command_options({**report, "quick": True, "scenes": 8}) == " --quick"
