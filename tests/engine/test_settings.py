"""The schedule table and settings validation (ALGORITHM.md §9, §4.2, §4.7)."""

from __future__ import annotations

import pytest

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.settings import BankMode, Schedule
from diffeditor_app.engine.tasks.registry import DEFAULTS, Task


def test_fifty_step_schedule_is_the_reference_table():
    plan = Schedule().describe(50)
    assert plan["guided"] == list(range(10)) + list(range(10, 30, 2))
    assert plan["sde"] == list(range(11, 20))
    assert plan["time_travel"] == {22: 3, 24: 3, 26: 3, 28: 3}


def test_other_step_counts_map_onto_the_table():
    schedule = Schedule()
    assert [schedule.table_step(i, 100) for i in (0, 1, 2, 99)] == [0, 0, 1, 49]
    plan = schedule.describe(100)
    assert plan["time_travel"] == {44: 3, 45: 3, 48: 3, 49: 3, 52: 3, 53: 3, 56: 3, 57: 3}
    assert plan["sde"] == list(range(22, 40))
    assert Schedule().describe(25)["sde"] == [6, 7, 8, 9]


def test_task_defaults_are_the_parameter_table():
    move, drag = DEFAULTS[Task.MOVE], DEFAULTS[Task.DRAG]
    assert (move.cfg_scale, move.guidance_strength, move.guidance_lambda) == (4, 0.5, 0.08)
    assert move.guidance_scale == pytest.approx(40.0)  # lambda * S, S = 0.5 x 1000
    assert (move.w_edit, move.w_content, move.w_contrast, move.w_inpaint) == (4, 6, 0.2, 0.8)
    assert (drag.cfg_scale, drag.guidance_strength, drag.guidance_lambda) == (4, 2, 0.04)
    assert (drag.w_edit, drag.w_content, drag.w_inpaint) == (4, 6, 0.2)
    assert move.bank_mode is BankMode.REPLACE and drag.bank_mode is BankMode.CONCAT
    assert move.bank_steps(50) == frozenset(range(5, 50))
    assert (move.eta_in, move.eta_out) == (0.4, 0.0)


def test_guidance_strength_zero_turns_time_travel_off():
    off = DEFAULTS[Task.MOVE].with_overrides({"guidance_strength": 0})
    assert off.guidance_scale == 0 and not off.time_travel


@pytest.mark.parametrize("field,value", [("eta_in", 1.5), ("eta_out", -0.1), ("cfg_scale", -1)])
def test_validation_names_the_field(field, value):
    settings = DEFAULTS[Task.DRAG].with_overrides({field: value})
    with pytest.raises(InvalidInput, match=field):
        settings.validate()


def test_unknown_override_is_an_error():
    with pytest.raises(InvalidInput, match="guidance_strenght"):
        DEFAULTS[Task.MOVE].with_overrides({"guidance_strenght": 1})


def test_overrides_convert_enums_and_schedule():
    s = DEFAULTS[Task.MOVE].with_overrides(
        {"bank_mode": "off", "schedule": {"time_travel_passes": 2}}
    )
    assert s.bank_mode is BankMode.OFF and s.schedule.time_travel_passes == 2
    assert s.bank_steps(50) == frozenset()
