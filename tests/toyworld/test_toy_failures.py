"""bench/toyworld/failures.py sorts failed edits by what the edited object's true area shows."""

import numpy as np
import pytest
from failures import MODES, failure_mode, markdown, old_colours, other_colours, sort_store
from metrics import SEGMENT_DELTA_E, dilate, nearest_distance
from quality import case_path, cases_for, measure, save_outputs


@pytest.fixture(scope="module")
def case():
    """A move whose source scene holds an object of another colour."""
    return next(c for c in cases_for("move", 12) if other_colours(c))


def painted(case, colour, grow=0) -> np.ndarray:
    """The truth with the edited object's area (grown by `grow` pixels) painted `colour`."""
    out = case.truth.render().rgb.copy()
    area = case.truth.render().masks[case.target]
    out[dilate(area, grow) if grow else area] = colour
    return out


def mode_of(case, out) -> str:
    return failure_mode(case, out, measure(case, out)["iou"])


def test_each_way_of_failing_is_told_apart(case):
    assert mode_of(case, case.truth.render().rgb) == "ok"
    assert mode_of(case, case.background) == "not drawn"
    assert mode_of(case, painted(case, other_colours(case)[0])) == "another object's colour"
    far = next(
        colour
        for colour in ((0, 128, 128), (128, 0, 64), (255, 0, 255))
        if nearest_distance(np.array(colour), (*case.colours, *other_colours(case)))
        > SEGMENT_DELTA_E + 10
    )
    assert mode_of(case, painted(case, far)) == "other colour"
    bloated = painted(case, case.colours[0], grow=8)  # the right colour, far too big
    assert measure(case, bloated)["iou"] < 0.5
    assert mode_of(case, bloated) == "misshapen or misplaced"


def test_an_appearance_that_keeps_its_old_colour_is_told_apart():
    case = cases_for("appearance", 1)[0]
    old = old_colours(case)
    assert old == case.scene.objects[case.target].colours()
    assert nearest_distance(np.array(old[0]), case.colours) >= SEGMENT_DELTA_E
    assert mode_of(case, painted(case, old[0])) == "its old colour"
    assert old_colours(cases_for("move", 1)[0]) == ()


def test_a_store_is_sorted_per_task(tmp_path):
    cases = cases_for("move", 2)
    save_outputs(case_path(tmp_path, "move", 0), {"full": (cases[0].truth.render().rgb, 1.0, 334)})
    save_outputs(case_path(tmp_path, "move", 1), {"full": (cases[1].background, 1.0, 334)})
    report = sort_store(tmp_path, 2, "test", False, "full")
    assert list(report) == ["move"]  # tasks without stored images are left out
    row = report["move"]
    assert row["cases"] == 2 and row["modes"]["ok"] == 1 and row["modes"]["not drawn"] == 1
    assert sum(row["modes"].values()) == 2 and set(row["modes"]) == set(MODES)
    assert row["iou_ok"] > row["iou"]
    assert "| move | 2 | 1 | 1 | 0 |" in markdown(report)
