"""A working crop: the part of an image an edit works on, cut out and put back afterwards.

The output has the input's size, pixels outside the crop are the input's bit for bit, and
inside it the edit fades in from the crop's inner edges (an edge on the image's border
needs no fade). A request names its crop with `EditRequest.working_crop` (the face task).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffeditor_app.engine.imaging.compose import feather_width
from diffeditor_app.engine.imaging.images import SourceImage


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
