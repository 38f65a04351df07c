"""The face task's working crop: a square around the face, at most three face boxes wide and
clipped to the image, edited at the model's resolution and put back into the full photo.
The user's photo is never rotated or cropped: the output has the input's size, pixels
outside the crop are the input's bit for bit, and inside it the edit fades in from the
crop's inner edges (an edge on the image's border needs no fade).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.compose import feather_width
from diffeditor_app.engine.imaging.images import SourceImage

CROP_FACE_BOXES = 3.0  # the crop's side: at most this many face boxes


@dataclass(frozen=True)
class CropBox:
    """x0, y0 inclusive; x1, y1 exclusive; whole pixels of the full image."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def size(self) -> tuple[int, int]:
        return self.x1 - self.x0, self.y1 - self.y0

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


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


def crop_image(image: SourceImage, crop: CropBox) -> SourceImage:
    rows, cols = slice(crop.y0, crop.y1), slice(crop.x0, crop.x1)
    alpha = None if image.alpha is None else image.alpha[rows, cols].copy()
    return SourceImage(rgb=image.rgb[rows, cols].copy(), alpha=alpha, name=image.name)


def crop_mask(mask: np.ndarray, crop: CropBox) -> np.ndarray:
    return mask[crop.y0 : crop.y1, crop.x0 : crop.x1].copy()


def fade_weights(crop: CropBox, width: int, height: int) -> np.ndarray:
    """[h, w] in [0, 1]: 0 on the crop's edges that lie inside the image, rising to 1 over
    the feather width of the crop; an edge on the image's border stays at 1."""
    w, h = crop.size
    ramp = float(feather_width(w, h))
    cols, rows = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    inf = np.float32(np.inf)
    left = cols if crop.x0 > 0 else np.full(w, inf)
    right = (w - 1 - cols) if crop.x1 < width else np.full(w, inf)
    top = rows if crop.y0 > 0 else np.full(h, inf)
    bottom = (h - 1 - rows) if crop.y1 < height else np.full(h, inf)
    across = np.minimum(left, right)[None, :]
    down = np.minimum(top, bottom)[:, None]
    return np.clip(np.minimum(across, down) / ramp, 0.0, 1.0)


def paste_back(original: SourceImage, edited: SourceImage, crop: CropBox) -> SourceImage:
    """The full image with the edited crop faded in; outside the crop, the input."""
    if edited.size != crop.size:
        raise ValueError(f"the edited crop is {edited.size}, the crop {crop.size}")
    weights = fade_weights(crop, original.width, original.height)[..., None]
    rows, cols = slice(crop.y0, crop.y1), slice(crop.x0, crop.x1)
    out = original.rgb.copy()
    base = out[rows, cols]
    mixed = np.round(base * (1 - weights) + edited.rgb.astype(np.float32) * weights)
    out[rows, cols] = np.where(weights > 0, mixed.astype(np.uint8), base)
    alpha = original.alpha
    if alpha is not None and edited.alpha is not None:
        alpha = alpha.copy()
        w = weights[..., 0]
        part = alpha[rows, cols]
        blended = np.round(part * (1 - w) + edited.alpha.astype(np.float32) * w)
        alpha[rows, cols] = np.where(w > 0, blended.astype(np.uint8), part)
    return SourceImage(rgb=out, alpha=alpha, name=original.name)


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
