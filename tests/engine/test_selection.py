"""Wand, GrabCut and refining on generated scenes whose right selection is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from diffeditor_app.engine.errors import InvalidInput, ModelUnavailable
from diffeditor_app.engine.selection import (
    Box,
    Click,
    Combine,
    GrabCutSettings,
    Method,
    SelectionPrompt,
    SelectionRequest,
    WandSettings,
    choose_method,
    combine,
    grabcut,
    iou,
    magic_wand,
    refine,
    select,
)
from diffeditor_app.engine.selection.scenes import make_scene

SIDE = 240  # small scenes keep these tests to a few seconds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wand_selects_a_flat_anti_aliased_object(seed):
    scene = make_scene("flat", SIDE, SIDE + 40, seed=seed)
    mask = magic_wand(scene.rgb, scene.click)
    assert iou(mask, scene.truth) >= 0.97


def test_wand_tolerance_zero_takes_exactly_the_clicked_colour():
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[2:5, 3:7] = (200, 10, 10)
    rgb[3, 4] = (201, 10, 10)  # one level off
    mask = magic_wand(rgb, Click(3.5, 2.5), WandSettings(tolerance=0))
    assert mask.sum() == 11 and not mask[3, 4]
    assert magic_wand(rgb, Click(3.5, 2.5), WandSettings(tolerance=1)).sum() == 12


def test_wand_contiguous_versus_everywhere():
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[2:6, 2:6] = 255
    rgb[12:18, 12:18] = 250  # same colour within tolerance, not connected
    near = magic_wand(rgb, Click(3, 3), WandSettings(tolerance=10))
    everywhere = magic_wand(rgb, Click(3, 3), WandSettings(tolerance=10, contiguous=False))
    assert near.sum() == 16
    assert everywhere.sum() == 16 + 36


def test_wand_negative_click_removes_its_region():
    rgb = np.zeros((10, 30, 3), np.uint8)
    rgb[:, 10:20] = 50
    rgb[:, 20:] = 100  # stripes 0 | 50 | 100 with tolerance 60: 0 reaches 50, 100 reaches 50
    prompt = SelectionPrompt((Click(2, 2), Click(25, 2, positive=False)))
    request = SelectionRequest(rgb, prompt, Method.WAND, WandSettings(tolerance=60))
    mask = select(request).mask
    assert mask[:, :10].all() and not mask[:, 10:].any()


@pytest.mark.parametrize("kind", ["flat", "textured"])
def test_grabcut_from_a_box(kind):
    scene = make_scene(kind, SIDE, SIDE, seed=3)
    mask = grabcut(scene.rgb, scene.box)
    assert iou(mask, scene.truth) >= 0.90


def test_grabcut_downscaled_with_edge_band_matches_the_truth():
    """The working size forces the three-stage path (scale-down, cut, full-size band)."""
    scene = make_scene("textured", SIDE, SIDE, seed=4)
    small = GrabCutSettings(work_pixels=SIDE * SIDE // 6)
    coarse = grabcut(
        scene.rgb,
        scene.box,
        settings=GrabCutSettings(small.iterations, small.work_pixels, refine_edges=False),
    )
    refined = grabcut(scene.rgb, scene.box, settings=small)
    assert iou(refined, scene.truth) >= 0.90
    assert iou(refined, scene.truth) >= iou(coarse, scene.truth)


def test_grabcut_negative_click_carves_out_a_region():
    scene = make_scene("flat", SIDE, SIDE, seed=5)
    inside = np.argwhere(scene.truth)
    row, col = inside[len(inside) // 2]
    carved = grabcut(scene.rgb, scene.box, (Click(col + 0.5, row + 0.5, positive=False),))
    assert not carved[row, col]


def test_grabcut_box_over_the_whole_image_is_refused():
    scene = make_scene("flat", 64, 64, seed=0)
    with pytest.raises(InvalidInput, match="whole image"):
        grabcut(scene.rgb, Box(0, 0, 64, 64))


def test_auto_picks_by_prompt_and_sam_readiness():
    box = SelectionPrompt(boxes=(Box(1, 1, 9, 9),))
    click = SelectionPrompt((Click(2, 2),))
    assert choose_method(box, Method.AUTO, sam_ready=False) is Method.GRABCUT
    assert choose_method(click, Method.AUTO, sam_ready=False) is Method.WAND
    assert choose_method(click, Method.AUTO, sam_ready=True) is Method.SAM
    assert choose_method(click, Method.GRABCUT, sam_ready=True) is Method.GRABCUT


@pytest.mark.parametrize(
    ("prompt", "method", "message"),
    [
        (SelectionPrompt(), Method.AUTO, "needs a click"),
        (SelectionPrompt((Click(1, 1, positive=False),)), Method.AUTO, "needs a click"),
        (SelectionPrompt((Click(-3, 4),)), Method.WAND, "outside"),
        (SelectionPrompt((Click(40, 4),)), Method.WAND, "outside"),
        (SelectionPrompt(boxes=(Box(50, 50, 60, 60),)), Method.GRABCUT, "does not cover"),
        (SelectionPrompt(boxes=(Box(1, 1, 9, 9),)), Method.WAND, "clicks, not boxes"),
        (SelectionPrompt((Click(2, 2),)), Method.GRABCUT, "exactly one box"),
    ],
)
def test_bad_prompts_are_one_sentence(prompt, method, message):
    rgb = np.zeros((30, 40, 3), np.uint8)
    with pytest.raises(InvalidInput, match=message):
        select(SelectionRequest(rgb, prompt, method))


def test_sam_without_a_model_says_so():
    rgb = np.zeros((30, 40, 3), np.uint8)
    with pytest.raises(ModelUnavailable):
        select(SelectionRequest(rgb, SelectionPrompt((Click(2, 2),)), Method.SAM))


@pytest.mark.parametrize(
    "rgb",
    [np.zeros((5, 5), np.uint8), np.zeros((5, 5, 4), np.uint8), np.zeros((5, 5, 3), np.uint16)],
)
def test_only_8_bit_rgb_is_read(rgb):
    with pytest.raises(InvalidInput, match="8-bit RGB"):
        magic_wand(rgb, Click(1, 1))


def test_wand_tolerance_out_of_range():
    with pytest.raises(InvalidInput, match="tolerance"):
        magic_wand(np.zeros((4, 4, 3), np.uint8), Click(1, 1), WandSettings(tolerance=300))


# -- refine -------------------------------------------------------------------------------


def _square(size=40, lo=10, hi=30) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[lo:hi, lo:hi] = True
    return mask


def test_grow_and_shrink_are_euclidean():
    grown = refine.grow(_square(), 3)
    assert grown[10, 7] and not grown[10, 6]  # 3 px left of the edge, not 4
    assert not grown[7, 7]  # a corner 3*sqrt(2) away stays out: round corners
    shrunk = refine.shrink(_square(), 3)
    assert shrunk[13, 13] and not shrunk[12, 20]
    assert np.array_equal(refine.shrink(refine.grow(_square(), 5), 5), _square())


def test_grow_closes_and_shrink_clears_at_the_borders():
    full = np.ones((8, 8), bool)
    assert refine.shrink(full, 3).all()  # the image border is not "unselected"
    assert not refine.grow(np.zeros((8, 8), bool), 3).any()


def test_feather_gives_a_soft_edge_and_smooth_keeps_straight_edges():
    alpha = refine.feather(_square(), 4)
    assert alpha.dtype == np.float32 and 0.4 < alpha[20, 10] < 0.6
    assert alpha[20, 20] > 0.99 and alpha[0, 0] < 0.01
    speckled = _square()
    speckled[2, 2] = True  # a speck far away
    smoothed = refine.smooth(speckled, 4)
    assert not smoothed[2, 2] and smoothed[20, 10] and not smoothed[20, 9]


def test_fill_holes_fills_enclosed_gaps_only():
    ring = _square()
    ring[15:25, 15:25] = False  # a hole
    notch = ring.copy()
    notch[0:20, 19:21] = False  # a channel from the border into the hole
    assert refine.fill_holes(ring)[20, 20]
    assert not refine.fill_holes(notch)[20, 20]
    assert not refine.fill_holes(ring)[0, 0]


def test_invert_and_combine():
    a, b = _square(), np.zeros((40, 40), bool)
    b[:, :20] = True
    assert np.array_equal(refine.invert(a), ~a)
    assert np.array_equal(combine(a, b, Combine.ADD), a | b)
    assert np.array_equal(combine(a, b, Combine.SUBTRACT), a & ~b)
    assert np.array_equal(combine(a, b, Combine.REPLACE), b)


def test_refine_radius_is_checked():
    with pytest.raises(InvalidInput, match="grow radius"):
        refine.grow(_square(), -1)
