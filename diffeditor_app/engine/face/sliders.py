"""Sliders in the manner of Face-Aware Liquify: each one a geometric rule on the 68 points in
the face's own frame, moving only its group's points, in its direction. A slider's value
lies in [-1, 1] (0: no change; positive: bigger, wider, more); sliders add up.

The face frame: the origin halfway between the eye centres, u along the line from the
image-left eye to the other, v perpendicular to it towards the mouth; the unit is the eye
distance, so a rule acts the same on a small or tilted face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.face.align import GROUPS, LEFT_EYE, RIGHT_EYE

SLIDER_RANGE = (-1.0, 1.0)
# What a slider at 1 does, in eye distances or as a factor: each a named gain
EYE_SIZE_GAIN = 0.35  # each eye scaled about its centre by 1 + 0.35 s
EYE_DISTANCE_GAIN = 0.12  # each eye shifted outwards along u by 0.12 s eye distances
NOSE_WIDTH_GAIN = 0.35  # nostrils and nose base scaled along u by 1 + 0.35 s
SMILE_LIFT = 0.10  # mouth corners raised by 0.10 s eye distances ...
SMILE_SPREAD = 0.04  # ... and moved outwards by 0.04 s
SMILE_NEIGHBOUR = 0.5  # the lip points beside a corner follow it by half
MOUTH_WIDTH_GAIN = 0.30  # the mouth scaled along u by 1 + 0.30 s about its centre
MOUTH_OPEN_DROP = 0.25  # the lower lip lowered by 0.25 s eye distances
MOUTH_OPEN_LIFT = 0.05  # the upper lip raised by 0.05 s
JAW_WIDTH_GAIN = 0.15  # the lower jaw widened by 1 + 0.15 s, most at the jaw's corners
FACE_WIDTH_GAIN = 0.10  # the whole jaw line widened by 1 + 0.10 s

MOUTH_CORNERS = (48, 54, 60, 64)
CORNER_NEIGHBOURS = {48: (49, 59), 54: (53, 55), 60: (61, 67), 64: (63, 65)}
LOWER_LIP = (55, 56, 57, 58, 59, 65, 66, 67)
UPPER_LIP = (49, 50, 51, 52, 53, 61, 62, 63)
NOSE_BASE = (31, 32, 33, 34, 35)


@dataclass(frozen=True)
class FaceFrame:
    """The face's own frame: origin, unit axes (image pixels) and unit length."""

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    unit: float

    @classmethod
    def of(cls, points: np.ndarray) -> FaceFrame:
        left = points[list(LEFT_EYE)].mean(axis=0)
        right = points[list(RIGHT_EYE)].mean(axis=0)
        axis = right - left
        unit = float(np.hypot(*axis))
        if not unit > 0:
            raise InvalidInput("The face's eyes coincide; its landmarks cannot be used.")
        u = axis / unit
        v = np.array([-u[1], u[0]])  # u turned a quarter towards the image's bottom
        return cls((left + right) / 2, u, v, unit)

    def to_face(self, points: np.ndarray) -> np.ndarray:
        """Image pixels -> (u, v) in eye distances."""
        d = points - self.origin
        return np.stack([d @ self.u, d @ self.v], axis=-1) / self.unit

    def to_image(self, coords: np.ndarray) -> np.ndarray:
        return self.origin + self.unit * (coords[..., :1] * self.u + coords[..., 1:] * self.v)


@dataclass(frozen=True)
class Sliders:
    """Each field a slider in [-1, 1]; 0 leaves its group alone."""

    eye_size: float = 0.0
    eye_distance: float = 0.0
    nose_width: float = 0.0
    smile: float = 0.0
    mouth_width: float = 0.0
    mouth_open: float = 0.0
    jaw_width: float = 0.0
    face_width: float = 0.0

    def validate(self) -> None:
        low, high = SLIDER_RANGE
        for f in fields(self):
            value = getattr(self, f.name)
            if not (math.isfinite(value) and low <= value <= high):
                name = f.name.replace("_", "-")
                raise InvalidInput(f"The {name} slider must be between {low} and {high}.")

    def any(self) -> bool:
        return any(getattr(self, f.name) != 0 for f in fields(self))

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def targets(self, points: np.ndarray) -> np.ndarray:
        """The 68 points moved by every slider: each rule's displacement is computed from the
        unchanged points and the displacements add, so the order does not matter."""
        self.validate()
        frame = FaceFrame.of(points)
        face = frame.to_face(points)
        moved = face.copy()
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                moved += RULES[f.name](face, value)
        return frame.to_image(moved)


def _zero(face: np.ndarray) -> np.ndarray:
    return np.zeros_like(face)


def eye_size(face: np.ndarray, s: float) -> np.ndarray:
    d = _zero(face)
    for eye in (LEFT_EYE, RIGHT_EYE):
        index = list(eye)
        centre = face[index].mean(axis=0)
        d[index] = (face[index] - centre) * EYE_SIZE_GAIN * s
    return d


def eye_distance(face: np.ndarray, s: float) -> np.ndarray:
    d = _zero(face)
    d[list(LEFT_EYE), 0] = -EYE_DISTANCE_GAIN * s
    d[list(RIGHT_EYE), 0] = EYE_DISTANCE_GAIN * s
    return d


def nose_width(face: np.ndarray, s: float) -> np.ndarray:
    d = _zero(face)
    index = list(NOSE_BASE)
    centre = face[33, 0]  # the nose tip's column
    d[index, 0] = (face[index, 0] - centre) * NOSE_WIDTH_GAIN * s
    return d


def smile(face: np.ndarray, s: float) -> np.ndarray:
    d = _zero(face)
    centre = face[list(GROUPS["mouth"]), 0].mean()
    for corner in MOUTH_CORNERS:
        step = np.array([np.sign(face[corner, 0] - centre) * SMILE_SPREAD, -SMILE_LIFT]) * s
        d[corner] = step
        d[list(CORNER_NEIGHBOURS[corner])] = SMILE_NEIGHBOUR * step
    return d


def mouth_width(face: np.ndarray, s: float) -> np.ndarray:
    d = _zero(face)
    index = list(GROUPS["mouth"])
    centre = face[index, 0].mean()
    d[index, 0] = (face[index, 0] - centre) * MOUTH_WIDTH_GAIN * s
    return d


def mouth_open(face: np.ndarray, s: float) -> np.ndarray:
    d = _zero(face)
    d[list(LOWER_LIP), 1] = MOUTH_OPEN_DROP * s
    d[list(UPPER_LIP), 1] = -MOUTH_OPEN_LIFT * s
    return d


def jaw_width(face: np.ndarray, s: float) -> np.ndarray:
    """Widest change at the jaw's corners (points 4 and 12), none at the ears or the chin."""
    d = _zero(face)
    index = np.array(GROUPS["jaw"])
    weight = np.sin(np.pi * index / 8) ** 2  # 0 at 0, 8, 16; 1 at 4 and 12
    d[index, 0] = face[index, 0] * JAW_WIDTH_GAIN * s * weight
    return d


def face_width(face: np.ndarray, s: float) -> np.ndarray:
    d = _zero(face)
    index = list(GROUPS["jaw"])
    d[index, 0] = face[index, 0] * FACE_WIDTH_GAIN * s
    return d


RULES = {
    "eye_size": eye_size,
    "eye_distance": eye_distance,
    "nose_width": nose_width,
    "smile": smile,
    "mouth_width": mouth_width,
    "mouth_open": mouth_open,
    "jaw_width": jaw_width,
    "face_width": face_width,
}
SLIDER_GROUPS = {  # which group each slider may move
    "eye_size": "eyes",
    "eye_distance": "eyes",
    "nose_width": "nose",
    "smile": "mouth",
    "mouth_width": "mouth",
    "mouth_open": "mouth",
    "jaw_width": "jaw",
    "face_width": "jaw",
}
