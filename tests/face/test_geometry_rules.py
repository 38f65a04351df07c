"""Alignment of a reference face, the sliders' rules and the working crop, on the portrait's
landmarks: pure geometry, checked point by point."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.face.align import (
    GROUPS,
    aligned_reference,
    parse_groups,
    reference_targets,
    similarity_transform,
)
from diffeditor_app.engine.face.crop import CROP_FACE_BOXES, face_crop, pairs_for
from diffeditor_app.engine.face.sliders import SLIDER_GROUPS, FaceFrame, Sliders
from diffeditor_app.engine.imaging.crop import crop_image, fade_weights, paste_back
from diffeditor_app.engine.imaging.images import SourceImage


def moved(points: np.ndarray, scale: float, degrees: float, shift) -> np.ndarray:
    turn = np.deg2rad(degrees)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return scale * points @ rotation.T + np.asarray(shift)


def test_the_same_face_moved_and_scaled_gives_no_motion(portrait_points):
    reference = moved(portrait_points, 1.7, 12.0, (40.0, -25.0))
    targets = reference_targets(portrait_points, reference)
    assert np.abs(targets - portrait_points).max() < 1e-6


def test_the_fit_recovers_a_similarity_exactly():
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 100, (11, 2))
    matrix = similarity_transform(points, moved(points, 0.6, -30.0, (5.0, 7.0)))
    turn = np.deg2rad(-30.0)
    expected = 0.6 * np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    assert np.allclose(matrix[:, :2], expected) and np.allclose(matrix[:, 2], (5.0, 7.0))


def test_only_the_chosen_groups_take_the_reference_shape(portrait_points):
    reference = moved(portrait_points, 1.3, -5.0, (10.0, 3.0))
    frame = FaceFrame.of(reference)
    opened = reference.copy()
    opened[list(range(55, 60))] += frame.v * 0.3 * frame.unit  # the reference's mouth opens
    targets = reference_targets(portrait_points, opened, ["mouth"])
    motion = np.linalg.norm(targets - portrait_points, axis=1)
    mouth = list(GROUPS["mouth"])
    assert motion[list(range(55, 60))].min() > 5.0
    assert np.delete(motion, mouth).max() < 1e-6
    untouched = reference_targets(portrait_points, opened, ["eyes", "jaw"])
    assert np.abs(untouched - portrait_points).max() < 1e-6


def test_alignment_ignores_what_only_the_mouth_does(portrait_points):
    """The fit uses eye corners and nose only: an open mouth does not shift the rest."""
    reference = portrait_points.copy()
    reference[48:68, 1] += 20.0
    aligned = aligned_reference(portrait_points, reference)
    assert np.abs(aligned[:48] - portrait_points[:48]).max() < 1e-6


def test_group_names_are_checked():
    assert parse_groups(["Mouth", " eyes", "mouth"]) == ("mouth", "eyes")
    with pytest.raises(InvalidInput, match="lips"):
        parse_groups(["lips"])
    with pytest.raises(InvalidInput, match="at least one"):
        parse_groups([""])


DIRECTIONS = {  # slider -> (points, a measure of the face frame's coordinates that grows)
    "eye_size": (list(range(36, 48)), lambda f: np.abs(f[36:42] - f[36:42].mean(0)).sum(1)),
    "eye_distance": (list(range(42, 48)), lambda f: f[42:48, 0] - f[36:42, 0].mean()),
    "nose_width": ([31, 35], lambda f: np.abs(f[[31, 35], 0] - f[33, 0])),
    "smile": ([48, 54], lambda f: -f[[48, 54], 1]),
    "mouth_width": ([48, 54], lambda f: np.abs(f[[48, 54], 0] - f[48:68, 0].mean())),
    "mouth_open": ([57, 66], lambda f: f[[57, 66], 1]),
    "jaw_width": ([4, 12], lambda f: np.abs(f[[4, 12], 0])),
    "face_width": ([2, 14], lambda f: np.abs(f[[2, 14], 0])),
}


@pytest.mark.parametrize("name", sorted(SLIDER_GROUPS))
@pytest.mark.parametrize("value", [0.8, -0.8])
def test_each_slider_moves_only_its_group_in_its_direction(portrait_points, name, value):
    targets = Sliders(**{name: value}).targets(portrait_points)
    motion = np.linalg.norm(targets - portrait_points, axis=1)
    group = list(GROUPS[SLIDER_GROUPS[name]])
    assert np.delete(motion, group).max() < 1e-9
    assert motion[group].max() > 1.0  # pixels, on a face with 44 px between the eyes
    frame = FaceFrame.of(portrait_points)  # measured in the unchanged face's frame
    _, measure = DIRECTIONS[name]
    before, after = measure(frame.to_face(portrait_points)), measure(frame.to_face(targets))
    assert (np.sign(value) * (after - before) > 0).all()


def test_sliders_add_up_and_zero_changes_nothing(portrait_points):
    both = Sliders(smile=0.5, eye_size=0.5).targets(portrait_points)
    smile = Sliders(smile=0.5).targets(portrait_points)
    eyes = Sliders(eye_size=0.5).targets(portrait_points)
    assert np.allclose(both - portrait_points, (smile - portrait_points) + (eyes - portrait_points))
    assert np.allclose(Sliders().targets(portrait_points), portrait_points)
    assert not Sliders().any() and Sliders(jaw_width=-0.1).any()


def test_a_slider_acts_in_the_face_frame_whatever_its_tilt_and_size(portrait_points):
    tilted = moved(portrait_points, 2.0, 25.0, (300.0, 100.0))
    straight = Sliders(smile=1.0, mouth_open=0.5).targets(portrait_points)
    turned = Sliders(smile=1.0, mouth_open=0.5).targets(tilted)
    assert np.allclose(turned, moved(straight, 2.0, 25.0, (300.0, 100.0)))


@pytest.mark.parametrize("value", [1.5, float("nan")])
def test_slider_values_outside_the_range_are_refused(portrait_points, value):
    with pytest.raises(InvalidInput, match="mouth-open slider"):
        Sliders(mouth_open=value).targets(portrait_points)


def test_the_crop_is_three_face_boxes_square_and_clipped_to_the_image():
    crop = face_crop((400.0, 300.0, 500.0, 420.0), 2000, 1500)
    assert crop.size == (round(CROP_FACE_BOXES * 120),) * 2
    assert (crop.x0 + crop.x1) / 2 == pytest.approx(450, abs=1)
    corner = face_crop((10.0, 5.0, 110.0, 105.0), 2000, 1500)
    assert (corner.x0, corner.y0) == (0, 0) and corner.size == (210, 205)
    with pytest.raises(InvalidInput):
        face_crop((50.0, 50.0, 50.0, 80.0), 200, 200)


def test_pasting_back_leaves_every_pixel_outside_the_crop_and_fades_at_inner_edges():
    rng = np.random.default_rng(2)
    original = SourceImage(rgb=rng.integers(0, 255, (120, 160, 3), np.uint8), alpha=None)
    crop = face_crop((60.0, 0.0, 90.0, 30.0), 160, 120)  # touches the top border
    part = crop_image(original, crop)
    edited = dataclasses.replace(part, rgb=np.full_like(part.rgb, 7))
    out = paste_back(original, edited, crop)
    outside = np.ones((120, 160), bool)
    outside[crop.y0 : crop.y1, crop.x0 : crop.x1] = False
    assert out.size == original.size
    assert (out.rgb[outside] == original.rgb[outside]).all()
    weights = fade_weights(crop, 160, 120)
    assert (weights[:, 0] == 0).all() and (weights[-1, :] == 0).all()  # inner edges
    assert weights[0, weights.shape[1] // 2] == 1.0  # the edge on the image's border
    middle = (crop.y0 + crop.y1) // 2, (crop.x0 + crop.x1) // 2
    assert (out.rgb[middle] == 7).all()


def test_pairs_hold_every_point_and_keep_targets_inside_the_image():
    handles = np.array([[10.0, 10.0], [50.0, 20.0]])
    targets = np.array([[10.0, 10.0], [130.0, -4.0]])
    pairs = pairs_for(handles, targets, 100, 80)
    assert pairs == (((10.0, 10.0), (10.0, 10.0)), ((50.0, 20.0), (99.0, 0.0)))
