"""What a selection is asked for and what it gives back: clicks, boxes and a boolean mask.

Coordinates are the input image's pixels, continuous like the canvas's: pixel (i, j)
covers [i, i + 1) x [j, j + 1), so a click at (10.5, 3.5) is the centre of pixel (10, 3).
Every check here raises `InvalidInput` with one sentence, before any work is done.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from diffeditor_app.engine.errors import InvalidInput

MIN_BOX_SIDE = 2  # pixels: a thinner box holds no object to separate from its surround


class Method(str, enum.Enum):
    """How a selection is made; AUTO picks SAM when its weights are present, else GrabCut
    for a box and the wand for clicks."""

    AUTO = "auto"
    WAND = "wand"
    GRABCUT = "grabcut"
    SAM = "sam"


class Combine(str, enum.Enum):
    """How a new selection meets the mask already there (Photoshop's new / add / subtract)."""

    REPLACE = "replace"
    ADD = "add"
    SUBTRACT = "subtract"


@dataclass(frozen=True)
class Click:
    """A point prompt; `positive=False` marks background (SAM's label 0, GrabCut's BGD)."""

    x: float
    y: float
    positive: bool = True

    def pixel(self) -> tuple[int, int]:
        """(column, row) of the pixel under the click."""
        return int(np.floor(self.x)), int(np.floor(self.y))


@dataclass(frozen=True)
class Box:
    """A rectangle x0, y0 (inclusive) to x1, y1 (exclusive) in continuous coordinates."""

    x0: float
    y0: float
    x1: float
    y1: float

    def normalized(self) -> Box:
        """Corners in order, whichever way the box was dragged."""
        return Box(
            min(self.x0, self.x1),
            min(self.y0, self.y1),
            max(self.x0, self.x1),
            max(self.y0, self.y1),
        )

    def pixels(self, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """Whole-pixel bounds clipped to an image of `shape` (height, width)."""
        box = self.normalized()
        height, width = shape
        x0 = min(max(int(np.floor(box.x0)), 0), width)
        y0 = min(max(int(np.floor(box.y0)), 0), height)
        x1 = min(max(int(np.ceil(box.x1)), 0), width)
        y1 = min(max(int(np.ceil(box.y1)), 0), height)
        return x0, y0, x1, y1


@dataclass(frozen=True)
class SelectionPrompt:
    """Everything the user pointed at for one selection."""

    clicks: tuple[Click, ...] = ()
    boxes: tuple[Box, ...] = ()

    @property
    def positives(self) -> tuple[Click, ...]:
        return tuple(c for c in self.clicks if c.positive)

    @property
    def negatives(self) -> tuple[Click, ...]:
        return tuple(c for c in self.clicks if not c.positive)

    def validate(self, shape: tuple[int, int]) -> None:
        """Every click on the image, every box overlapping it and not degenerate, and at
        least one positive click or a box."""
        height, width = shape
        if not self.positives and not self.boxes:
            raise InvalidInput(
                "A selection needs a click on the object or a box around it "
                "(negative clicks alone select nothing)."
            )
        for click in self.clicks:
            if not (0 <= click.x < width and 0 <= click.y < height):
                raise InvalidInput(
                    f"The click at {click.x:g},{click.y:g} is outside the {width}x{height} image."
                )
        for box in self.boxes:
            x0, y0, x1, y1 = box.pixels(shape)
            if x1 - x0 < MIN_BOX_SIDE or y1 - y0 < MIN_BOX_SIDE:
                b = box.normalized()
                raise InvalidInput(
                    f"The box {b.x0:g},{b.y0:g},{b.x1:g},{b.y1:g} does not cover at least "
                    f"{MIN_BOX_SIDE}x{MIN_BOX_SIDE} pixels of the {width}x{height} image."
                )


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """A selection: H x W bool mask of the image's size, how it was made and how long the
    method itself took (an embedding computed for it included)."""

    mask: np.ndarray
    method: Method
    seconds: float
    notes: tuple[str, ...] = field(default=())


def check_rgb(rgb: np.ndarray) -> None:
    """The selection methods read 8-bit RGB (engine.images converts every file mode)."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3:
        raise InvalidInput("A selection needs an H x W x 3 8-bit RGB image.")
    if rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise InvalidInput("A selection needs an H x W x 3 8-bit RGB image.")


def combine(old: np.ndarray, new: np.ndarray, how: Combine) -> np.ndarray:
    """The mask after a selection meets the one already there."""
    if old.shape != new.shape:
        raise InvalidInput(
            f"The selection is {new.shape[1]}x{new.shape[0]} but the mask is "
            f"{old.shape[1]}x{old.shape[0]}."
        )
    if how is Combine.ADD:
        return old | new
    if how is Combine.SUBTRACT:
        return old & ~new
    return new.astype(bool, copy=True)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)
