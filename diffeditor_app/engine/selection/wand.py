"""Magic wand: the pixels whose colour is within a tolerance of the clicked pixel's.

Distance is the largest per-channel difference (Photoshop's and Krita's "tolerance" on
0..255), so a tolerance of 0 selects exactly the clicked colour. Contiguous mode keeps the
4-connected region around the click (OpenCV's flood fill, fixed range: every pixel is
compared with the seed, not with its neighbour, so a slow gradient does not leak);
non-contiguous mode takes every such pixel in the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.selection.prompts import Click, check_rgb

MAX_TOLERANCE = 255  # per channel, 8 bits
DEFAULT_TOLERANCE = 32  # Photoshop's default
FLOOD_CONNECTIVITY = 4  # 8 would leak through diagonal one-pixel gaps in outlines
FLOOD_MARK = 255  # value flood fill writes into its mask


@dataclass(frozen=True)
class WandSettings:
    """The wand's tool options."""

    tolerance: int = DEFAULT_TOLERANCE  # 0..255, largest per-channel difference allowed
    contiguous: bool = True  # only the region connected to the click

    def validate(self) -> None:
        if not 0 <= self.tolerance <= MAX_TOLERANCE:
            raise InvalidInput(
                f"The wand tolerance must be between 0 and {MAX_TOLERANCE}, got {self.tolerance}."
            )


def magic_wand(
    rgb: np.ndarray, click: Click, settings: WandSettings = WandSettings()
) -> np.ndarray:
    """H x W bool: the region of colour similar to the clicked pixel's."""
    check_rgb(rgb)
    settings.validate()
    height, width = rgb.shape[:2]
    col, row = click.pixel()
    if not (0 <= col < width and 0 <= row < height):
        raise InvalidInput(
            f"The click at {click.x:g},{click.y:g} is outside the {width}x{height} image."
        )
    tolerance = int(settings.tolerance)
    if not settings.contiguous:
        seed = rgb[row, col].astype(np.int16)
        distance = np.abs(rgb.astype(np.int16) - seed).max(axis=2)
        return distance <= tolerance
    image = np.require(rgb, requirements=["C", "W"])  # OpenCV binds writable arrays only
    flood = np.zeros((height + 2, width + 2), dtype=np.uint8)  # OpenCV wants a 1-px border
    flags = FLOOD_CONNECTIVITY | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY
    flags |= FLOOD_MARK << 8
    diff = (tolerance,) * 3
    cv2.floodFill(image, flood, (col, row), (0, 0, 0), diff, diff, flags)
    return flood[1:-1, 1:-1] == FLOOD_MARK


def wand_clicks(
    rgb: np.ndarray, clicks: tuple[Click, ...], settings: WandSettings = WandSettings()
) -> np.ndarray:
    """The union of the positive clicks' regions minus the negative clicks' regions."""
    mask = np.zeros(rgb.shape[:2], dtype=bool)
    for click in clicks:
        if click.positive:
            mask |= magic_wand(rgb, click, settings)
    for click in clicks:
        if not click.positive:
            mask &= ~magic_wand(rgb, click, settings)
    return mask
