"""Faces and their 68 landmarks, found with dlib (the optional `face` extra).

dlib's HOG frontal-face detector runs at the image's own scale and, when it finds nothing,
once more upsampled (faces down to about 40 px); its 68-point shape predictor then places
the points. The predictor's file comes from the `face_recognition_models` package, found
with `importlib.util.find_spec`: importing that package needs pkg_resources, which a modern
environment lacks. The CNN detector is left out on purpose (seconds per photo on a CPU).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from diffeditor_app.engine.errors import MissingExtra
from diffeditor_app.engine.imaging.images import SourceImage, load_image

FACE_EXTRA = 'pip install -e ".[face]"'
MISSING_SENTENCE = (
    "Face landmarks need the optional face extra (dlib and its 68-point model); "
    f"install it with: {FACE_EXTRA}."
)
BUNDLED_SENTENCE = (  # a packaged app, which never ships the extra: pip cannot reach it
    "This packaged DiffEditor leaves out the optional face extra (its 68-point landmark "
    "model forbids commercial use); to use the face task, install DiffEditor from source "
    f"with: {FACE_EXTRA}."
)
LICENCE_NOTE = (
    "The 68-point face landmark model is trained on the iBUG 300-W data set, whose terms "
    "forbid commercial use; it comes only with the optional face extra."
)
MODELS_PACKAGE = "face_recognition_models"  # ships the predictor; never imported
PREDICTOR_FILE = "models/shape_predictor_68_face_landmarks.dat"
POINTS = 68  # the iBUG 300-W markup
UPSAMPLE_TRIES = (0, 1)  # the image's own scale first, then upsampled once (small faces)
DETECT_MAX_SIDE = 1024  # the detector sees a copy this long at most: HOG time grows with area


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, in the image's pixels (EXIF orientation applied)."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1; x1 and y1 exclusive
    points: np.ndarray  # [68, 2] float64, (x, y) in the iBUG 300-W order

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of `diffeditor landmarks`."""
        return {
            "box": [round(v, 2) for v in self.box],
            "points": [[round(float(x), 2), round(float(y), 2)] for x, y in self.points],
        }


def missing_extra() -> MissingExtra:
    """The error that says what to install: from source, the extra; in a packaged app,
    which leaves it out, how to get it."""
    return MissingExtra(BUNDLED_SENTENCE if getattr(sys, "frozen", False) else MISSING_SENTENCE)


def predictor_path() -> Path:
    """The 68-point model's file, or MissingExtra when the package is absent."""
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise missing_extra()
    path = Path(next(iter(spec.submodule_search_locations))) / PREDICTOR_FILE
    if not path.is_file():
        raise missing_extra()
    return path


class LandmarkDetector:
    """dlib's detector and predictor, loaded once (the predictor file is about 100 MB)."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise missing_extra() from None
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(predictor_path()))

    def __call__(self, image: SourceImage) -> list[Face]:
        """Every face found, largest first."""
        rgb = image.rgb
        scale = min(1.0, DETECT_MAX_SIDE / max(image.width, image.height))
        small = rgb
        if scale < 1.0:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            small = np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))
        rects = []
        for upsample in UPSAMPLE_TRIES:
            rects = list(self._detector(np.ascontiguousarray(small), upsample))
            if rects:
                break
        faces = []
        for rect in rects:
            box = _clipped_box(rect, scale, image.width, image.height)
            full = self._dlib.rectangle(*(round(v) for v in box))
            shape = self._predictor(rgb, full)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            faces.append(Face(box=box, points=points))
        return sorted(faces, key=lambda face: face.area, reverse=True)


def _clipped_box(rect, scale: float, width: int, height: int) -> tuple[float, ...]:
    """A detector rectangle (inclusive corners, on the detector's copy) in image pixels."""
    x0, y0 = rect.left() / scale, rect.top() / scale
    x1, y1 = (rect.right() + 1) / scale, (rect.bottom() + 1) / scale
    return (
        float(max(0.0, x0)),
        float(max(0.0, y0)),
        float(min(float(width), x1)),
        float(min(float(height), y1)),
    )


@functools.cache
def detector() -> LandmarkDetector:
    """The process's detector (loading the predictor takes about a second)."""
    return LandmarkDetector()


def detect_faces(image: SourceImage) -> list[Face]:
    return detector()(image)


def faces_in_file(path: str | Path) -> list[Face]:
    """Faces of an image file, read the project's way (EXIF orientation applied)."""
    return detect_faces(load_image(path))
