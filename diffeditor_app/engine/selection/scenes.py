"""Synthetic scenes whose right selection is known exactly, for tests and `bench/selection.py`.

An object is a wavy blob, r(theta) = R (1 + a sin(k theta + phase)), drawn with an
anti-aliased edge: each pixel's coverage is 0.5 minus its radial signed distance to the
outline, clipped to 0..1, and the truth is the pixels at least half covered. `flat`
scenes are one colour on another; `textured` scenes put a striped, noisy object on a
noisy gradient background of another hue.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from diffeditor_app.engine.selection.prompts import Box, Click

OBJECT_SHARE = 0.3  # the blob's mean radius as a share of the shorter side
WAVE_AMPLITUDE = 0.12  # a, relative depth of the outline's waves
WAVE_COUNT = 5  # k, waves around the outline
NOISE_STD = 18.0  # grey levels of the textures' noise
NOISE_BLUR = 1.5  # sigma (pixels) of the noise's smoothing: grain, not salt
STRIPE_PERIOD = 14.0  # pixels between the object's stripes
STRIPE_DEPTH = 30.0  # grey levels of the stripes
GRADIENT_DEPTH = 40.0  # grey levels the background brightens by from left to right
BOX_MARGIN = 0.04  # a user's box leaves this share of the object's size around it


@dataclass(frozen=True, eq=False)
class Scene:
    """An image, its exact object mask, and the prompts a user would give."""

    rgb: np.ndarray  # H x W x 3 uint8
    truth: np.ndarray  # H x W bool
    click: Click  # the object's centre
    box: Box  # the object's bounding box plus a margin
    kind: str


def _blob(height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """Coverage (0..1) of a wavy blob near the centre, and its centre."""
    cy = height / 2 + rng.uniform(-0.05, 0.05) * height
    cx = width / 2 + rng.uniform(-0.05, 0.05) * width
    radius = OBJECT_SHARE * min(height, width)
    phase = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = xs + 0.5 - cx, ys + 0.5 - cy
    rho = np.hypot(dx, dy)
    outline = radius * (1 + WAVE_AMPLITUDE * np.sin(WAVE_COUNT * np.arctan2(dy, dx) + phase))
    coverage = np.clip(0.5 - (rho - outline), 0.0, 1.0)
    return coverage, cx, cy


def _noise(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0.0, NOISE_STD, shape).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), NOISE_BLUR) * 2.0  # blur halves the spread


def make_scene(kind: str, height: int, width: int, seed: int = 0) -> Scene:
    """`kind` "flat" or "textured"; every colour and the outline's phase come from `seed`."""
    if kind not in ("flat", "textured"):
        raise ValueError(f"kind must be flat or textured, got {kind!r}")
    rng = np.random.default_rng(seed)
    coverage, cx, cy = _blob(height, width, rng)
    hue = rng.uniform(0, 180)
    other = (hue + rng.uniform(50, 130)) % 180
    fg_colour = _colour(hue, rng)
    bg_colour = _colour(other, rng)
    fg = np.broadcast_to(fg_colour, (height, width, 3)).astype(np.float32)
    bg = np.broadcast_to(bg_colour, (height, width, 3)).astype(np.float32)
    if kind == "textured":
        xs = np.arange(width, dtype=np.float32)[None, :]
        ys = np.arange(height, dtype=np.float32)[:, None]
        stripes = STRIPE_DEPTH * np.sin(2 * np.pi * (xs + ys) / STRIPE_PERIOD)
        fg = fg + (stripes + _noise((height, width), rng))[..., None]
        gradient = np.broadcast_to(GRADIENT_DEPTH * (xs / width - 0.5), (height, width))
        bg = bg + (gradient + _noise((height, width), rng))[..., None]
    alpha = coverage[..., None]
    rgb = np.clip(np.round(alpha * fg + (1 - alpha) * bg), 0, 255).astype(np.uint8)
    truth = coverage >= 0.5
    rows, cols = np.flatnonzero(truth.any(axis=1)), np.flatnonzero(truth.any(axis=0))
    margin_y = BOX_MARGIN * (rows[-1] - rows[0])
    margin_x = BOX_MARGIN * (cols[-1] - cols[0])
    box = Box(
        max(cols[0] - margin_x, 0),
        max(rows[0] - margin_y, 0),
        min(cols[-1] + 1 + margin_x, width),
        min(rows[-1] + 1 + margin_y, height),
    )
    return Scene(rgb, truth, Click(cx, cy), box, kind)


def _colour(hue: float, rng: np.random.Generator) -> np.ndarray:
    """A saturated, mid-bright RGB colour of an OpenCV hue (0..180)."""
    hsv = np.array([[[hue, rng.uniform(150, 230), rng.uniform(120, 200)]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
