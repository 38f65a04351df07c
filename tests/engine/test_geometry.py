"""Coordinates, masks and placements: no wrap-around, crops at borders, the right axes."""

from __future__ import annotations

import numpy as np

from diffeditor_app.engine.imaging.geometry import (
    Frame,
    Placement,
    bbox_centre,
    block_mask,
    box_centre,
    mask_bbox,
    resize_mask,
    working_size,
)


def test_working_size_keeps_area_and_multiples():
    assert working_size(512, 512, 768, 64) == (768, 768)
    w, h = working_size(8000, 6000, 768, 64)
    assert w % 64 == 0 and h % 64 == 0
    assert abs(w * h - 768 * 768) / (768 * 768) < 0.05
    assert abs(w / h - 8000 / 6000) < 0.1
    assert working_size(10, 4000, 64, 32) == (32, 128)  # never below one multiple ...
    w, h = working_size(40000, 10, 64, 32)  # ... nor far above the pixel budget
    assert h == 32 and w * h <= 2 * 64 * 64


def test_frame_grids_follow_the_vae_factor():
    frame = Frame(1000, 500, 640, 320, latent_factor=8)
    assert frame.latent_shape == (40, 80)
    assert frame.grid_shape == (80, 160)


def test_cell_of_clips_x_by_width_and_y_by_height():
    frame = Frame(80, 40, 64, 32, latent_factor=8)
    shape = (4, 8)  # rows, cols: a grid twice as wide as high
    assert frame.cell_of(shape, 79, 39) == (7, 3)
    assert frame.cell_of(shape, 500, 2) == (7, 0)  # x past the width -> last column
    assert frame.cell_of(shape, 2, 500) == (0, 3)  # y past the height -> last row
    assert frame.cell_of(shape, -5, -5) == (0, 0)


def test_shift_never_wraps_around_the_border():
    mask = np.zeros((8, 8), dtype=bool)
    mask[3:5, 5:7] = True
    moved = Placement(dx=2).place(mask)
    assert moved[3:5, 7].all()  # one column survives at the right border
    assert moved.sum() == 2  # the rest is cropped ...
    assert not moved[:, :2].any()  # ... never wrapped to the left side


def test_placing_entirely_outside_leaves_nothing():
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:4, 2:4] = True
    assert not Placement(dx=10).place(mask).any()
    assert not Placement(dy=-9).place(mask).any()


def test_scale_is_about_the_object_centre():
    mask = np.zeros((32, 32), dtype=bool)
    mask[4:10, 20:26] = True  # far from the image centre
    cx, cy = bbox_centre(mask)
    grown = Placement(scale=2.0, cx=cx, cy=cy).place(mask)
    assert bbox_centre(grown) == (cx, cy)
    assert grown.sum() == 4 * mask.sum()
    shrunk = Placement(scale=0.5, cx=cx, cy=cy).place(mask)
    sx, sy = bbox_centre(shrunk)  # 3 cells cannot centre on a cell border: half a cell off
    assert abs(sx - cx) <= 0.5 and abs(sy - cy) <= 0.5
    assert shrunk.sum() == mask.sum() // 4


def test_pairs_map_each_placed_cell_to_its_source():
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:4, 2:5] = True
    dest, src = Placement(dx=3, dy=1).pairs(mask)
    assert len(dest) == mask.sum()
    assert np.array_equal(dest - src, np.full(len(dest), 1 * 10 + 3))
    assert mask.flat[src].all()


def test_pairs_drop_what_leaves_the_grid():
    mask = np.zeros((6, 6), dtype=bool)
    mask[1:3, 3:6] = True
    dest, src = Placement(dx=2).pairs(mask)
    assert len(dest) == 2  # only the column that lands at x = 5 survives
    assert set(src % 6) == {3}


def test_thin_stroke_keeps_at_least_one_cell():
    mask = np.zeros((64, 64), dtype=bool)
    mask[30, 10:50] = True  # one pixel high: 1/8 of a cell after an 8x reduction
    small = resize_mask(mask, (8, 8))
    assert small.any()
    assert not resize_mask(np.zeros((64, 64), dtype=bool), (8, 8)).any()


def test_resize_mask_thresholds_at_half_coverage():
    mask = np.zeros((8, 8), dtype=bool)
    mask[0:4, 0:4] = True  # exactly the top-left cell of a 2x2 grid
    mask[4:6, 4:8] = True  # half of the bottom-right cell
    mask[0:1, 4:8] = True  # a quarter of the top-right cell
    small = resize_mask(mask, (2, 2))
    assert small.tolist() == [[True, False], [False, True]]


def test_block_mask_is_cropped_at_corners():
    block = block_mask((5, 7), 0, 4)
    assert block.sum() == 4
    assert block[3:5, 0:2].all()


def test_a_placement_maps_a_box_where_it_places_the_mask():
    mask = np.zeros((64, 64), bool)
    mask[10:20, 20:30] = True
    box = mask_bbox(mask)
    assert box == (20, 10, 30, 20) and box_centre(box) == bbox_centre(mask) == (25.0, 15.0)
    placement = Placement(2.0, 5.0, -3.0, *box_centre(box))
    assert placement.map(25.0, 15.0) == (30.0, 12.0)  # the centre only shifts
    assert placement.map_box(box) == (20.0, 2.0, 40.0, 22.0)
    assert mask_bbox(placement.place(mask)) == (20, 2, 40, 22)
    assert mask_bbox(np.zeros((4, 4), bool)) is None
