"""bench/toyworld/guidance_reach.py measures where the two guidance gradients land."""

import pytest
import torch
from guidance_reach import MEASURES, Recorder, reach
from quality import TASKS

from diffeditor_app.engine.method.sampler import DiffEditorSampler


def test_every_task_reports_shares_of_its_gradients(tiny_model_dir):
    original = DiffEditorSampler.energy_gradients, DiffEditorSampler.guided_noise
    report = reach(str(tiny_model_dir), scenes=1, steps=4)
    assert set(report) == set(TASKS)
    for row in report.values():
        assert set(row) <= set(MEASURES) and "global - regional" in row
        for measure in ("edit outside", "content inside"):
            if measure in row:
                assert 0.0 <= row[measure] <= 1.0
        assert row["guidance against eps"] > 0  # guidance ran and was read
    assert (DiffEditorSampler.energy_gradients, DiffEditorSampler.guided_noise) == original


def test_a_gradient_inside_its_own_region_makes_no_difference():
    recorder = Recorder()
    recorder._eps = torch.ones(1, 4, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    edit = torch.zeros(1, 4, 4, 4)
    edit[..., :2, :] = 1  # all inside the mask
    content = torch.zeros(1, 4, 4, 4)
    content[..., 2:, :] = 3  # all outside it
    recorder.record(2.0, mask, edit, content)
    row = recorder.rows[0]
    assert row["edit outside"] == 0 and row["content inside"] == 0
    assert row["global - regional"] == 0
    content[..., :2, :] = 3  # now also on the edit's side: global guidance adds it there
    recorder.record(2.0, mask, edit, content)
    row = recorder.rows[1]
    assert row["content inside"] == pytest.approx(2**-0.5)
    assert row["global - regional"] == pytest.approx((288 / 320) ** 0.5)  # 3s on 32 of 64 cells
    assert row["... against eps"] == pytest.approx(2.0 * 288**0.5 / 8)  # lambda S |diff| / |eps|
