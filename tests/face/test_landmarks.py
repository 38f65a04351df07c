"""Face detection on the test portrait: the same landmarks, within a few per cent of the eye
distance, whether the photo is mirrored, tilted a little, scaled or placed elsewhere."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from diffeditor_app.engine.errors import MissingExtra
from diffeditor_app.engine.face import landmarks
from diffeditor_app.engine.face.landmarks import MISSING_SENTENCE, detect_faces
from diffeditor_app.engine.imaging.images import SourceImage

TOLERANCE = 0.04  # mean point error, in eye distances (measured: 1-2%)
# the 68-point markup's left-right mirror: jaw, brows, nose bridge, nostrils, eyes, mouth
MIRROR = [
    *range(16, -1, -1),
    *range(26, 16, -1),
    27, 28, 29, 30,
    35, 34, 33, 32, 31,
    45, 44, 43, 42, 47, 46,
    39, 38, 37, 36, 41, 40,
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
    64, 63, 62, 61, 60, 67, 66, 65,
]  # fmt: skip


def eye_distance(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))


def error(found: np.ndarray, expected: np.ndarray) -> float:
    return float(np.linalg.norm(found - expected, axis=1).mean()) / eye_distance(expected)


def only_face(image: SourceImage) -> np.ndarray:
    faces = detect_faces(image)
    assert len(faces) == 1
    return faces[0].points


def test_the_portrait_has_one_face_with_68_points_inside_its_box(portrait, portrait_points):
    face = detect_faces(portrait)[0]
    assert portrait_points.shape == (68, 2)
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= portrait.width and 0 <= y0 < y1 <= portrait.height
    eyes_and_nose = portrait_points[27:48]
    assert (eyes_and_nose[:, 0] > x0).all() and (eyes_and_nose[:, 0] < x1).all()
    assert portrait_points[36:42, 0].mean() < portrait_points[42:48, 0].mean()  # markup order
    assert portrait_points[51, 1] > portrait_points[30, 1] > portrait_points[27, 1]


def test_a_mirrored_portrait_gives_the_mirrored_points(portrait, portrait_points):
    flipped = SourceImage(rgb=portrait.rgb[:, ::-1].copy(), alpha=None, name="flipped")
    found = only_face(flipped)
    found[:, 0] = portrait.width - 1 - found[:, 0]
    assert error(found[MIRROR], portrait_points) < TOLERANCE


@pytest.mark.parametrize("degrees", [6.0, -8.0])
def test_a_slightly_tilted_portrait_gives_the_tilted_points(portrait, portrait_points, degrees):
    centre = np.array([portrait.width / 2, portrait.height / 2])
    tilted = Image.fromarray(portrait.rgb).rotate(degrees, Image.BICUBIC, center=tuple(centre))
    found = only_face(SourceImage.from_pil(tilted))
    turn = np.deg2rad(degrees)  # Pillow turns counter-clockwise on screen: undo it
    back = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    assert error((found - centre) @ back.T + centre, portrait_points) < TOLERANCE


@pytest.mark.parametrize("scale", [0.75, 1.5])
def test_a_scaled_portrait_gives_the_scaled_points(portrait, portrait_points, scale):
    side = round(portrait.width * scale)
    scaled = Image.fromarray(portrait.rgb).resize((side, side), Image.LANCZOS)
    found = only_face(SourceImage.from_pil(scaled)) * (portrait.width / side)
    assert error(found, portrait_points) < TOLERANCE


def test_a_portrait_placed_on_a_larger_canvas_gives_shifted_points(portrait, portrait_points):
    canvas = np.full((300, 340, 3), 90, np.uint8)
    canvas[40 : 40 + portrait.height, 70 : 70 + portrait.width] = portrait.rgb
    found = only_face(SourceImage(rgb=canvas, alpha=None, name="canvas")) - [70, 40]
    assert error(found, portrait_points) < TOLERANCE


def test_exif_orientation_is_applied_before_detection(portrait, portrait_points, tmp_path):
    """A file stored on its side with 'rotate 90' in its EXIF is the upright portrait."""
    stored = Image.fromarray(portrait.rgb).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to show
    path = tmp_path / "sideways.jpg"
    stored.save(path, exif=exif, quality=95)
    faces = landmarks.faces_in_file(path)
    assert len(faces) == 1 and error(faces[0].points, portrait_points) < TOLERANCE


def test_a_picture_without_a_face_has_none():
    rng = np.random.default_rng(0)
    smooth = Image.fromarray(rng.integers(0, 255, (24, 32, 3), np.uint8)).resize((256, 192))
    assert detect_faces(SourceImage.from_pil(smooth)) == []


def test_the_largest_face_comes_first(portrait):
    small = np.asarray(Image.fromarray(portrait.rgb).resize((160, 160), Image.LANCZOS))
    canvas = np.full((260, 420, 3), 90, np.uint8)
    canvas[10:234, 0:224] = portrait.rgb
    canvas[40:200, 250:410] = small
    faces = detect_faces(SourceImage(rgb=canvas, alpha=None, name="two"))
    assert len(faces) == 2
    assert faces[0].area > faces[1].area and faces[0].box[0] < 224 <= faces[1].box[0]


def test_without_dlib_the_detector_says_in_one_sentence_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib now raises ImportError
    with pytest.raises(MissingExtra) as caught:
        landmarks.LandmarkDetector()
    assert str(caught.value) == MISSING_SENTENCE
    assert 'pip install -e ".[face]"' in MISSING_SENTENCE and MISSING_SENTENCE.count(". ") == 0


def test_without_the_model_package_the_same_sentence(monkeypatch):
    monkeypatch.setattr(landmarks.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtra, match="face extra"):
        landmarks.predictor_path()


def test_a_packaged_app_says_it_leaves_the_extra_out_and_how_to_get_it(monkeypatch):
    """The bundle never ships the extra (its model forbids commercial use), and pip cannot
    reach into it: its sentence says so instead of naming a command it cannot run."""
    monkeypatch.setitem(sys.modules, "dlib", None)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(MissingExtra) as caught:
        landmarks.LandmarkDetector()
    said = str(caught.value)
    assert said == landmarks.BUNDLED_SENTENCE and said.count(". ") == 0
    assert "optional face extra" in said and "from source" in said  # packaging/smoke.sh's words
