"""unet_work against a hand count, and the fast quality: a third of full's work at most on
every task, full unchanged (ALGORITHM.md §4.9, §10)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
import torch

from diffeditor_app.engine import InvalidInput, Quality
from diffeditor_app.engine.models.testing import scene_requests, square_scene
from diffeditor_app.engine.settings import TaskSettings
from diffeditor_app.engine.tasks.registry import DEFAULTS, Task

# The move edit of `scene_requests(*square_scene(64, 48), steps=10)` on the tiny model as the
# engine made it before the fast quality existed (sha256 of the RGB bytes, first 16 digits),
# on one CPU thread: the sums of two threads round differently (f425228094c9e2f7).
FULL_MOVE_DIGEST = "669ae705300b59ee"


def hand_count(
    settings: TaskSettings, steps: int, images: int, prepared: bool = True, backwards: int = 2
) -> int:
    """unet_work from the schedule alone (batch-b forward b, backward 2b): prepare inverts
    `images` latents per step and takes their features at each guided step; each sampling
    pass runs the classifier-free batch of 2, and on a guided step a feature pass of 1 and
    `backwards` backwards of 1 (edit and content; the face has no content energy); every
    pass but a step's last re-noises with a batch of 1."""
    schedule = settings.schedule
    work = 0
    for i in range(steps):
        j = schedule.table_step(i, steps)
        guided = settings.guidance_scale > 0 and schedule.is_guided(j)
        passes = schedule.passes(j) if settings.time_travel else 1
        if prepared:
            work += images * (1 + guided)  # inversion step, F_gud (and F_ref)
        work += passes * (2 + guided * (1 + backwards * 2)) + (passes - 1)
    return work


def fresh(editor, request):
    editor.cache.clear()  # prepare runs in this edit
    return editor.edit(request)


def test_unet_work_matches_a_hand_count_at_ten_steps(editor):
    requests = scene_requests(*square_scene(64, 48), steps=10)
    # 10 steps behave as table steps 0, 5, ..., 45: guided 0, 5, 10, 20 (4), no time travel.
    # move: prepare 10 + 4, sampling 10 x 2 (CFG) + 4 feature passes + 8 backwards x 2 = 54
    move = fresh(editor, requests["move"])
    assert move.unet_work == 10 + 4 + 20 + 4 + 16 == 54
    # paste: base and reference are inverted and featured together (batch 2): 20 + 8 more
    paste = fresh(editor, requests["paste"])
    assert paste.unet_work == 20 + 8 + 20 + 4 + 16 == 68
    again = editor.edit(requests["paste"])  # prepare and F_gud/F_ref cached: they count 0
    assert again.prepared_from_cache and again.unet_work == 20 + 4 + 16
    assert move.unet_work == hand_count(DEFAULTS[Task.MOVE], 10, 1)


@pytest.mark.parametrize("task", ["move", "resize", "drag", "appearance", "paste", "face"])
def test_fast_is_a_third_of_full_at_most(editor, task):
    """At the default 50 steps, with time travel: both against the hand count too."""
    request = scene_requests(*square_scene(64, 48), steps=50)[task]
    settings = editor.model.profile.task_settings(request.task)
    images = 2 if request.task in (Task.APPEARANCE, Task.PASTE) else 1
    backwards = 1 if request.task is Task.FACE else 2
    full = fresh(editor, request)
    fast = fresh(editor, replace(request, quality=Quality.FAST))
    assert full.unet_work == hand_count(settings, 50, images, backwards=backwards)
    steps, fast_settings = settings.for_quality(Quality.FAST, 50)
    assert (fast.steps, fast.quality, full.quality) == (steps, "fast", "full")
    assert fast.schedule["steps"] == steps == 15 and fast.schedule["time_travel"]
    assert fast.unet_work == hand_count(fast_settings, steps, images, backwards=backwards)
    assert 3 * fast.unet_work <= full.unet_work


def test_full_is_the_method_unchanged(editor):
    settings = DEFAULTS[Task.DRAG]
    assert settings.for_quality(Quality.FULL, 50) == (50, settings)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = fresh(editor, scene_requests(*square_scene(64, 48), steps=10)["move"])
    finally:
        torch.set_num_threads(threads)
    digest = hashlib.sha256(np.asarray(result.image).tobytes()).hexdigest()[:16]
    assert digest == FULL_MOVE_DIGEST


def test_fast_keeps_every_part_of_the_method():
    """Only schedule numbers change: guidance, SDE, time travel, bank and image prompt all
    still act on the fewer steps."""
    settings = DEFAULTS[Task.MOVE]
    steps, fast = settings.for_quality(Quality.FAST, 50)
    described = fast.schedule.describe(steps)
    assert described["guided"] and described["sde"] and described["time_travel"]
    assert fast.bank_steps(steps) and any(
        fast.ip_active(fast.schedule.table_step(i, steps)) for i in range(steps)
    )
    assert fast.guidance_strength == settings.guidance_strength * settings.fast.guidance_boost


def test_quality_overrides_and_a_bad_quality():
    changed = DEFAULTS[Task.MOVE].with_overrides({"fast": {"steps_ratio": 0.5}})
    assert changed.for_quality(Quality.FAST, 50)[0] == 25
    with pytest.raises(InvalidInput, match="steps_ratio"):
        DEFAULTS[Task.MOVE].with_overrides({"fast": {"steps_ratio": 0}}).validate()
    request = scene_requests(*square_scene(64, 48), steps=10)["move"]
    with pytest.raises(InvalidInput, match="quality must be full or fast, got 'slow'"):
        replace(request, quality="slow").validate()
