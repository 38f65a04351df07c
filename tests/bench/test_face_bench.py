"""bench/face.py: its point sets, its MSE and summary from known numbers, and the demo pairs
it writes for a plumbing run (the full run is `python bench/face.py --demo DIR --tiny`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "face.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("face_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_the_point_sets_are_17_and_68_distinct_landmarks(bench):
    assert {name: len(set(index)) for name, index in bench.POINT_SETS.items()} == {
        "17": 17,
        "68": 68,
    }
    assert set(bench.POINTS_17) <= set(range(68))


def test_mse_is_the_mean_squared_point_distance_at_the_face_scale(bench):
    points = np.zeros((68, 2))
    targets = np.zeros((68, 2))
    targets[8] = (3.0, 4.0)  # 25 px^2 on one of the 17 points
    assert bench.mse(points, targets, bench.POINTS_17, 1.0) == pytest.approx(25 / 17)
    assert bench.mse(points, targets, bench.POINTS_68, 2.0) == pytest.approx(100 / 68)


def test_the_summary_averages_only_faces_found_again(bench):
    rows = [
        {"before": 10.0, "after": 4.0, "prepare_s": 1.0, "edit_s": 2.0},
        {"before": 30.0, "prepare_s": 3.0, "edit_s": 4.0},  # no face found after the edit
        {"skipped": "no face"},
    ]
    assert bench.summary(rows) == {
        "pairs": 3,
        "edited": 2,
        "found_again": 1,
        "mse_before": 20.0,
        "mse_after": 4.0,
        "prepare_s": 2.0,
        "edit_s": 3.0,
    }


def test_the_demo_pairs_are_the_portrait_and_its_mirror(bench, tmp_path):
    bench.write_demo(tmp_path)
    pairs = bench.face_pairs(tmp_path)
    assert [(s.name, r.name) for s, r in pairs] == [("a.png", "a.png"), ("b.png", "b.png")]
    assert all(r.is_file() for _, r in pairs)
