import numpy as np
import pytest
from metrics import (
    PSNR_CAP,
    centroid_error,
    colour_error,
    colour_segment,
    delta_e2000,
    dilate,
    erode,
    iou,
    object_pixels,
    paired_interval,
    psnr,
    region_iou,
    scored_region,
    srgb_to_lab,
    track,
)

# Pairs and differences from Sharma, Wu and Dalal's CIEDE2000 test data.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_ciede2000_matches_the_published_test_data(lab1, lab2, expected):
    assert float(delta_e2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)
    assert float(delta_e2000(np.array(lab2), np.array(lab1))) == pytest.approx(expected, abs=1e-4)


def test_lab_of_white_black_and_grey():
    lab = srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [119, 119, 119]]))
    np.testing.assert_allclose(lab[0], (100, 0, 0), atol=0.01)
    np.testing.assert_allclose(lab[1], (0, 0, 0), atol=0.01)
    assert lab[2, 0] == pytest.approx(50.0, abs=0.5) and abs(lab[2, 1:]).max() < 0.01


def square(top: int, left: int, side: int = 4, size: int = 16) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_iou_and_centroid_error_on_hand_made_masks():
    assert iou(square(2, 2), square(2, 4)) == pytest.approx(8 / 24)
    assert iou(square(2, 2), square(2, 2)) == 1.0
    assert iou(square(0, 0), square(8, 8)) == 0.0
    assert centroid_error(square(2, 2), square(5, 6)) == pytest.approx(5.0)
    vanished = np.zeros((16, 16), dtype=bool)
    assert centroid_error(vanished, square(2, 2)) == pytest.approx(np.hypot(16, 16))


def test_psnr_over_a_region():
    a = np.full((8, 8, 3), 100, dtype=np.uint8)
    b = a.copy()
    b[:4] += 10
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 50))
    top = np.zeros((8, 8), dtype=bool)
    top[:4] = True
    assert psnr(a, b, top) == pytest.approx(10 * np.log10(255**2 / 100))
    assert psnr(a, b, ~top) == PSNR_CAP
    assert np.isnan(psnr(a, b, np.zeros((8, 8), dtype=bool)))


def test_dilate_and_erode():
    grown = dilate(square(4, 4), 1)
    assert grown.sum() == 6 * 6 and grown[3, 3] and not grown[2, 2]
    assert np.array_equal(erode(grown, 1), square(4, 4))


def test_colour_segment_and_colour_error():
    rgb = np.full((16, 16, 3), 200, dtype=np.uint8)
    red, blue = square(1, 1), square(9, 9)
    rgb[red] = (215, 40, 40)
    rgb[blue] = (40, 80, 215)
    assert np.array_equal(colour_segment(rgb, (220, 35, 45)), red)
    assert not colour_segment(rgb, (215, 40, 40), exclude=dilate(red, 1)).any()
    truth = rgb.copy()
    assert colour_error(rgb, red, truth) == pytest.approx(0.0, abs=1e-9)
    truth[blue] = (215, 40, 40)  # the truth has a red object where the edit left blue
    assert colour_error(rgb, blue, truth) > 40


def test_object_pixels_are_nearer_the_object_than_the_background_they_replace():
    mint, white = (180, 230, 200), (248, 248, 248)  # ΔE2000 20.1 apart
    without = np.full((16, 16, 3), mint, dtype=np.uint8)
    drifted = without.copy()
    drifted[:, :8] = (192, 236, 210)  # the mint a few ΔE towards white, as a VAE leaves it
    object_ = square(10, 10, side=4)
    drifted[object_] = white
    assert colour_segment(drifted, white)[:, :8].all()  # the fixed threshold alone is fooled
    assert np.array_equal(object_pixels(drifted, (white,), without), object_)
    left_behind = drifted.copy()
    left_behind[square(2, 2, side=3)] = (240, 244, 240)  # a faded object left where it was
    assert object_pixels(left_behind, (white,), without)[square(2, 2, side=3)].all()
    striped = without.copy()
    striped[object_] = white
    striped[10:14:2, 10:14] = (149, 149, 149)  # stripes of the white object's shade
    found = object_pixels(striped, ((248, 248, 248), (149, 149, 149)), without)
    assert np.array_equal(found, object_)
    assert not object_pixels(striped, (white,), without)[10:14:2, 10:14].any()


def test_scored_region_leaves_out_the_outline_and_lookalike_background():
    expected = square(4, 4, side=6)
    background = np.zeros((16, 16, 3), np.uint8)
    background[:, 12:] = (215, 40, 40)  # a red stripe: the object's own colour
    region = scored_region(expected, background, ((215, 40, 40),), np.zeros((16, 16), bool))
    assert not region[4, 4] and not region[3, 4] and not region[9, 9]  # the outline band
    assert region[6, 6] and region[0, 0]  # the object's inside and plain background
    assert not region[:, 12:].any()  # background that looks like the object
    found = expected | (np.arange(16) >= 12)[None, :]  # the stripe is caught by the colour test
    assert region_iou(found, expected, region) == 1.0


def test_track_finds_where_the_content_went():
    disc = np.hypot(*np.mgrid[-16:16, -16:16]) <= 6  # centred at (16, 16)
    moved = np.roll(disc, shift=(3, 5), axis=(0, 1))  # 5 right, 3 down
    stretched = disc | moved  # an object smeared along the drag, not moved
    handle, target = (19, 13), (24, 16)
    assert track(disc, moved, handle, target, search=8) == 0.0
    assert track(disc, disc, handle, target, search=8) == pytest.approx(np.hypot(5, 3))
    assert 0 < track(disc, stretched, (13, 19), (18, 22), search=8) <= np.hypot(5, 3)


def test_paired_interval_excludes_zero_only_for_a_real_difference():
    mean, low, high = paired_interval([0.1, 0.12, 0.09, 0.11, 0.1, 0.13])
    assert mean == pytest.approx(0.1083, abs=1e-3) and 0 < low < mean < high
    mean, low, high = paired_interval([0.1, -0.1, 0.05, -0.05, float("nan")])
    assert low < 0 < high
