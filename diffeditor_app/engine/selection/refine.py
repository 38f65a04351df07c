"""Refining a mask: grow, shrink, feather, fill holes, invert (numpy bool in, out).

Grow and shrink use the exact Euclidean distance (OpenCV's distance transform), so a
grown square gets round corners like Photoshop's Expand, and growing by r then shrinking
by r closes gaps narrower than 2 r. Feather blurs the outline into an alpha (0..1); the
document's masks are boolean and the edit feathers its composite itself, so the app keeps
the half-opaque contour of the feathered mask: a smoothed outline (`smooth`).
"""

from __future__ import annotations

import cv2
import numpy as np

from diffeditor_app.engine.errors import InvalidInput

MAX_RADIUS = 500  # pixels: a bigger refinement is a different selection
DISTANCE_MASK = 5  # OpenCV's exact 5x5 distance mask
GAUSS_SIGMAS = 3.0  # the kernel spans this many sigmas on each side
HALF = 0.5  # a feathered pixel at least half opaque stays selected


def _check(mask: np.ndarray, radius: float, what: str) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise InvalidInput("A mask to refine must be an H x W array.")
    if not 0 <= radius <= MAX_RADIUS:
        raise InvalidInput(
            f"The {what} radius must be between 0 and {MAX_RADIUS} pixels, got {radius:g}."
        )
    return mask.astype(bool, copy=False)


def _distance_outside(mask: np.ndarray) -> np.ndarray:
    """For each pixel, the distance to the nearest selected pixel (0 on the mask)."""
    outside = (~mask).astype(np.uint8)
    return cv2.distanceTransform(outside, cv2.DIST_L2, DISTANCE_MASK)


def grow(mask: np.ndarray, radius: float) -> np.ndarray:
    """Every pixel within `radius` of the mask (an empty mask stays empty)."""
    mask = _check(mask, radius, "grow")
    if radius == 0 or not mask.any():
        return mask.copy()
    return _distance_outside(mask) <= radius


def shrink(mask: np.ndarray, radius: float) -> np.ndarray:
    """The pixels farther than `radius` from anything unselected (the image's border does
    not count as unselected, as in Photoshop's Contract)."""
    mask = _check(mask, radius, "shrink")
    if radius == 0 or mask.all():
        return mask.copy()
    return ~grow(~mask, radius)


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """H x W float32 alpha in 0..1: the mask blurred by a Gaussian of sigma radius / 2, so
    the soft edge is about `radius` pixels wide on each side."""
    mask = _check(mask, radius, "feather")
    alpha = mask.astype(np.float32)
    if radius == 0:
        return alpha
    sigma = radius / 2.0
    size = 2 * int(np.ceil(GAUSS_SIGMAS * sigma)) + 1
    return cv2.GaussianBlur(alpha, (size, size), sigma, borderType=cv2.BORDER_REPLICATE)


def smooth(mask: np.ndarray, radius: float) -> np.ndarray:
    """The feathered mask's half-opaque region: jagged outlines and specks under `radius`
    go, straight edges stay where they were."""
    return feather(mask, radius) >= HALF


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask plus every unselected region that does not touch the image's border."""
    mask = _check(mask, 0, "fill")
    height, width = mask.shape
    outside = np.ones((height + 2, width + 2), dtype=np.uint8)
    outside[1:-1, 1:-1] = (~mask).astype(np.uint8)  # a free border around everything
    flood = np.zeros((height + 4, width + 4), dtype=np.uint8)
    cv2.floodFill(outside, flood, (0, 0), 2, 0, 0, 4)
    reached = outside[1:-1, 1:-1] == 2
    return ~reached


def invert(mask: np.ndarray) -> np.ndarray:
    return ~_check(mask, 0, "invert")
