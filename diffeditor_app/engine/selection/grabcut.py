"""Object selection from a box (and clicks as hints) with OpenCV's GrabCut, no download.

GrabCut (Rother et al. 2004) fits colour mixtures to the box's inside and outside and cuts
the graph between them. Its cost grows with the pixels it sees, so it runs in three stages:

1. crop to the box (and the clicks) plus a margin: pixels far outside the box only ever
   say "background", which the margin already says;
2. GrabCut on the crop scaled down to about WORK_PIXELS pixels;
3. the result scaled back up, and its outline cut again at full size inside a band a few
   pixels wide, with the colour models of stage 2 frozen (GC_EVAL_FREEZE_MODEL), so the
   edge lands on the full-size pixels.

Measured on a 1 MP textured scene (2 cores): GrabCut on the full image 2.05 s, IoU 0.9967;
at half size 0.5 s, IoU 0.9924; plus the full-size band 0.35 s, IoU 0.9967.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.selection.prompts import Box, Click, check_rgb

WORK_PIXELS = 250_000  # stage 2's crop size: 0.5 s for 5 iterations on 2 cores
CROP_MARGIN = 0.15  # stage 1 keeps this share of the box's size around it ...
CROP_MARGIN_MIN = 16  # ... and at least this many pixels
HINT_RADIUS = 0.012  # a click marks a disc of this share of the crop's longer side ...
HINT_RADIUS_MIN = 2  # ... and at least this many working pixels
GMM_SIZE = 65  # OpenCV's model arrays: 5 components x (1 weight + 3 means + 9 covariances)


@dataclass(frozen=True)
class GrabCutSettings:
    """GrabCut's working choices."""

    iterations: int = 5  # of stage 2; OpenCV's samples use 5, more rarely changes the cut
    work_pixels: int = WORK_PIXELS
    refine_edges: bool = True  # stage 3

    def validate(self) -> None:
        if not 1 <= self.iterations <= 20:
            raise InvalidInput(f"GrabCut iterations must be 1..20, got {self.iterations}.")
        if self.work_pixels < 1024:
            raise InvalidInput(
                f"GrabCut's working size must be at least 1024 pixels, got {self.work_pixels}."
            )


def _crop(shape: tuple[int, int], box: Box, clicks: tuple[Click, ...]) -> tuple[int, int, int, int]:
    """The box and every click, plus the margin, clipped to the image."""
    height, width = shape
    x0, y0, x1, y1 = box.pixels(shape)
    for click in clicks:
        col, row = click.pixel()
        x0, y0, x1, y1 = min(x0, col), min(y0, row), max(x1, col + 1), max(y1, row + 1)
    mx = max(CROP_MARGIN * (x1 - x0), CROP_MARGIN_MIN)
    my = max(CROP_MARGIN * (y1 - y0), CROP_MARGIN_MIN)
    return (
        max(int(x0 - mx), 0),
        max(int(y0 - my), 0),
        min(math.ceil(x1 + mx), width),
        min(math.ceil(y1 + my), height),
    )


def _seed_mask(
    size: tuple[int, int],
    box: Box,
    clicks: tuple[Click, ...],
    origin: tuple[int, int],
    scale: float,
) -> np.ndarray:
    """GrabCut's starting labels on the working image: background outside the box, probably
    the object inside, discs of certainty around the clicks."""
    height, width = size
    ox, oy = origin
    labels = np.full((height, width), cv2.GC_BGD, dtype=np.uint8)
    b = box.normalized()
    x0, x1 = round((b.x0 - ox) * scale), round((b.x1 - ox) * scale)
    y0, y1 = round((b.y0 - oy) * scale), round((b.y1 - oy) * scale)
    x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)  # a thin box keeps a pixel at any scale
    labels[y0:y1, x0:x1] = cv2.GC_PR_FGD
    radius = max(round(HINT_RADIUS * max(height, width)), HINT_RADIUS_MIN)
    for click in clicks:
        centre = (int((click.x - ox) * scale), int((click.y - oy) * scale))
        label = cv2.GC_FGD if click.positive else cv2.GC_BGD
        cv2.circle(labels, centre, radius, int(label), thickness=-1)
    return labels


def _is_object(labels: np.ndarray) -> np.ndarray:
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def grabcut(
    rgb: np.ndarray,
    box: Box,
    clicks: tuple[Click, ...] = (),
    settings: GrabCutSettings = GrabCutSettings(),
    interrupt: Callable[[], None] | None = None,
) -> np.ndarray:
    """H x W bool: the object inside `box`; positive clicks are surely object, negative
    clicks surely background. `interrupt` is called between stages and may raise."""
    check_rgb(rgb)
    settings.validate()
    height, width = rgb.shape[:2]
    cx0, cy0, cx1, cy1 = _crop((height, width), box, clicks)
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1]), cv2.COLOR_RGB2BGR)
    crop_h, crop_w = bgr.shape[:2]
    scale = min(1.0, math.sqrt(settings.work_pixels / (crop_h * crop_w)))
    work_size = (max(round(crop_w * scale), 1), max(round(crop_h * scale), 1))
    small = bgr if scale == 1.0 else cv2.resize(bgr, work_size, interpolation=cv2.INTER_AREA)
    scale_x, scale_y = small.shape[1] / crop_w, small.shape[0] / crop_h
    labels = _seed_mask(small.shape[:2], box, clicks, (cx0, cy0), min(scale_x, scale_y))
    if not (labels == cv2.GC_BGD).any():
        raise InvalidInput(
            "The box covers the whole image: GrabCut needs some background around it; draw "
            "the box closer around the object."
        )
    background = np.zeros((1, GMM_SIZE), np.float64)
    foreground = np.zeros((1, GMM_SIZE), np.float64)
    if interrupt is not None:
        interrupt()
    cv2.grabCut(
        small, labels, None, background, foreground, settings.iterations, cv2.GC_INIT_WITH_MASK
    )
    inside = _is_object(labels)
    if scale < 1.0:
        up = cv2.resize(inside.astype(np.float32), (crop_w, crop_h), interpolation=cv2.INTER_LINEAR)
        inside = up >= 0.5
        if settings.refine_edges and inside.any():
            if interrupt is not None:
                interrupt()
            inside = _refine_band(bgr, inside, scale, background, foreground)
    mask = np.zeros((height, width), dtype=bool)
    mask[cy0:cy1, cx0:cx1] = inside
    return mask


def _refine_band(
    bgr: np.ndarray,
    inside: np.ndarray,
    scale: float,
    background: np.ndarray,
    foreground: np.ndarray,
) -> np.ndarray:
    """Stage 3: cut again at full size, only within a band around the scaled-up outline
    (one working pixel and one more on each side), with the colour models frozen."""
    band = math.ceil(1.0 / scale) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    as_bytes = inside.astype(np.uint8)
    core = cv2.erode(as_bytes, kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
    reach = cv2.dilate(as_bytes, kernel).astype(bool)
    labels = np.full(inside.shape, cv2.GC_BGD, dtype=np.uint8)
    labels[reach] = cv2.GC_PR_BGD
    labels[reach & inside] = cv2.GC_PR_FGD
    labels[core] = cv2.GC_FGD
    cv2.grabCut(bgr, labels, None, background, foreground, 1, cv2.GC_EVAL_FREEZE_MODEL)
    return _is_object(labels)
