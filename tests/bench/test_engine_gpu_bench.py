"""bench/engine_gpu.py: the `--device cpu --tiny` smoke run writes every case, the ratios and
the targets; the time budget skips cases; ratios and targets computed from known numbers."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "engine_gpu.py"


@pytest.fixture(scope="module")
def bench():
    """The script as a module (bench/ is no package); dataclasses need it in sys.modules."""
    spec = importlib.util.spec_from_file_location("engine_gpu_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def run(bench, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "engine_gpu.json"
    argv = ["--device", "cpu", "--tiny", "--steps", "3", "--runs", "1", "--out", str(out), *extra]
    assert bench.main(argv) == 0
    assert out.with_suffix(".md").is_file()
    return json.loads(out.read_text())


def test_the_cpu_tiny_run_measures_every_case(bench, tmp_path):
    # a budget no loaded machine reaches: this test is about the cases, not the time limit
    report = run(bench, tmp_path, "--budget-s", "3600")
    cases = report["cases"]
    assert list(cases) == [bench.key(case) for case in bench.CASES]
    expected_preset = {"fast": "high", "reference": "high", "low": "low"}  # auto: no GPU
    expected_preset["cpu-offload"] = "cpu-offload"
    for case in bench.CASES:
        row = cases[bench.key(case)]
        if case.mode == "compile":
            assert "CUDA only" in row["skipped"]
            continue
        assert row["preset"] == expected_preset[case.mode] and row["dtype"] == "float32"
        assert row["prepare_s"] > 0 and row["edit_s"] > 0 and row["total_s"] >= row["edit_s"]
        assert row["unet_forward"] > row["prepare_unet_forward"] > 0 and row["unet_backward"] > 0
        assert row["working_size"] == [bench.TINY_SIZES[case.size]] * 2
        assert "peak_gb" not in row  # the CPU has no peak-memory counter
        assert ("edit_s_cached" in row) == (case.mode != "reference")
        if "edit_s_cached" in row:  # the re-edit found its prepared state
            assert row["unet_forward_cached"] == row["unet_forward"] - row["prepare_unet_forward"]
    assert set(report["ratios"]["drag-512"]) == {"prepare_s", "edit_s", "total_s"}
    fast_quality = [case for case in bench.CASES if case.quality == "fast"]
    assert {case.task for case in fast_quality} == {"move", "drag", "appearance", "paste"}
    for case in fast_quality:
        row, full = cases[bench.key(case)], cases[bench.key(replace(case, quality="full"))]
        assert (row["quality"], full["quality"]) == ("fast", "full")
        assert row["steps"] < full["steps"] and row["unet_work"] < full["unet_work"]
        work = report["quality_ratios"][f"{case.task}-512"]["unet_work"]
        assert work == row["unet_work"] / full["unet_work"]
    assert all(target["met"] is None for target in report["targets"])  # not the full-size run
    table = (tmp_path / "engine_gpu.md").read_text()
    assert "| drag | 768 | low | float32 | low | 96x96 |" in table
    assert "| reference / fast |" in table and "not this run" in table
    assert "| fast / full quality |" in table


def test_cases_past_the_time_budget_are_skipped_and_listed(bench, tmp_path):
    report = run(bench, tmp_path, "--budget-s", "0")
    assert all("skipped" in row for row in report["cases"].values())
    assert report["ratios"] == {}


def test_ratios_and_targets_from_known_numbers(bench):
    fast = {"prepare_s": 0.8, "edit_s": 3.0, "total_s": 4.0, "peak_gb": 5.0}
    reference = {"prepare_s": 4.0, "edit_s": 12.0, "total_s": 16.0, "peak_gb": 10.0}
    rows = {"drag-512-fast": fast, "drag-512-reference": reference, "move-512-fast": fast}
    rows["drag-768-low"] = {"peak_gb": 6.0}
    speedups = bench.ratios(rows)
    assert speedups == {
        "drag-512": {
            "prepare_s": 5.0,
            "edit_s": 4.0,
            "total_s": 4.0,
            "peak_memory_fast_over_reference": 0.5,
        }
    }
    met = {t["target"]: t["met"] for t in bench.check_targets(rows, speedups, applies=True)}
    assert met["drag prepare <= 1.0 s"] and met["drag edit <= 3.5 s"]
    assert met["move peak <= 6 GB at 512"] and met["paste peak <= 6 GB at 512"] is None
    assert met["drag peak <= 5.5 GB at 768, preset low"] is False
    assert met["fast >= 3x faster than reference (drag 512, total)"] is True
