"""The face task's working crop: a square around the face, at most three face boxes wide and
clipped to the image, edited at the model's resolution and put back into the full photo
(imaging/crop.py). The user's photo is never rotated or cropped.
"""

from __future__ import annotations

import math

import numpy as np

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.crop import CropBox

CROP_FACE_BOXES = 3.0  # the crop's side: at most this many face boxes


def face_crop(box: tuple[float, float, float, float], width: int, height: int) -> CropBox:
    """A square three face boxes wide, centred on the face box, clipped to the image."""
    x0, y0, x1, y1 = box
    if not (all(math.isfinite(v) for v in box) and x1 > x0 and y1 > y0):
        raise InvalidInput("The face box must have x0 < x1 and y0 < y1.")
    side = CROP_FACE_BOXES * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = math.floor(cx - side / 2), math.floor(cy - side / 2)
    crop = CropBox(
        max(0, left),
        max(0, top),
        min(width, left + math.ceil(side)),
        min(height, top + math.ceil(side)),
    )
    if crop.x1 <= crop.x0 or crop.y1 <= crop.y0:
        raise InvalidInput("The face box lies outside the image.")
    return crop


def pairs_for(
    handles: np.ndarray, targets: np.ndarray, width: int, height: int
) -> tuple[tuple[tuple[float, float], tuple[float, float]], ...]:
    """Handle -> target pairs of every point (an unmoved point is an anchor that holds its
    place), targets clipped into the image so a rule near the border stays valid."""
    clipped = np.stack(
        [np.clip(targets[:, 0], 0, width - 1), np.clip(targets[:, 1], 0, height - 1)], axis=-1
    )
    held = np.stack(
        [np.clip(handles[:, 0], 0, width - 1), np.clip(handles[:, 1], 0, height - 1)], axis=-1
    )
    return tuple(
        ((float(hx), float(hy)), (float(tx), float(ty)))
        for (hx, hy), (tx, ty) in zip(held, clipped, strict=True)
    )
