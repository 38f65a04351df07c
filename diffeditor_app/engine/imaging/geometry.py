"""Coordinates and masks across the original image, the working image and the model's grids.

Continuous coordinates put cell k of a grid on [k, k + 1): a cell's centre is k + 0.5. Every
user coordinate (points, offsets, centres, masks) goes through `Frame`, so one transform is
applied to all of them. Moving and scaling use an inverse nearest-neighbour map and never
wrap around a border: what leaves the grid is cropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

Shape = tuple[int, int]  # (rows, cols)
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), in a grid's cells


def working_size(width: int, height: int, resolution: int, multiple: int) -> tuple[int, int]:
    """Scale to about resolution^2 pixels, each side rounded to a multiple (ALGORITHM.md §2.1)."""
    budget = resolution * resolution
    k = math.sqrt(budget / (width * height))
    work_w = max(multiple, round(width * k / multiple) * multiple)
    work_h = max(multiple, round(height * k / multiple) * multiple)
    if work_w * work_h > 2 * budget:  # a side held at the minimum must not inflate the other
        if work_w > work_h:
            work_w = max(multiple, budget // work_h // multiple * multiple)
        else:
            work_h = max(multiple, budget // work_w // multiple * multiple)
    return work_w, work_h


@dataclass(frozen=True)
class Frame:
    """The original image size, the working size and the model grids derived from it."""

    width: int
    height: int
    work_width: int
    work_height: int
    latent_factor: int  # pixels per latent cell (the VAE's scale factor)

    @property
    def latent_shape(self) -> Shape:
        return self.work_height // self.latent_factor, self.work_width // self.latent_factor

    @property
    def grid_shape(self) -> Shape:
        """The feature grid of the energies: twice the latent grid (ALGORITHM.md §2.3)."""
        rows, cols = self.latent_shape
        return 2 * rows, 2 * cols

    def factors(self, shape: Shape) -> tuple[float, float]:
        """Grid cells per original pixel along x and y."""
        return shape[1] / self.width, shape[0] / self.height

    def cell_of(self, shape: Shape, x: float, y: float) -> tuple[int, int]:
        """The (col, row) of a grid holding original pixel (x, y); x clipped by the width,
        y by the height."""
        fx, fy = self.factors(shape)
        col = min(max(math.floor((x + 0.5) * fx), 0), shape[1] - 1)
        row = min(max(math.floor((y + 0.5) * fy), 0), shape[0] - 1)
        return col, row


def resize_mask(mask: np.ndarray, shape: Shape) -> np.ndarray:
    """Area-resize a boolean mask and threshold at 0.5; a non-empty mask keeps at least the
    cells it touches, so a thin stroke never vanishes (ALGORITHM.md §2.3)."""
    if mask.shape == shape:
        return mask.copy()
    area = Image.fromarray(mask.astype(np.float32), "F").resize((shape[1], shape[0]), Image.BOX)
    coverage = np.asarray(area)
    resized = coverage >= 0.5
    if not resized.any() and mask.any():
        resized = coverage > 0
    return resized


def mask_bbox(mask: np.ndarray) -> Box | None:
    """(x0, y0, x1, y1), exclusive, of the mask's pixels; None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def box_centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    """Centre (x, y) of an (x0, y0, x1, y1) box in continuous coordinates."""
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0


def bbox_centre(mask: np.ndarray) -> tuple[float, float]:
    """Centre (x, y) of the mask's bounding box in continuous coordinates (ALGORITHM.md §2.4)."""
    box = mask_bbox(mask)
    if box is None:
        raise ValueError("bbox_centre of an empty mask")
    return box_centre(box)


@dataclass(frozen=True)
class AxisMap:
    """An axis-aligned inverse map from destination to source coordinates, per axis:
    src = a * dest + b (continuous coordinates). Sampling goes through cell centres and is
    separable, so it stays cheap on 8000 x 6000 masks; nothing wraps around a border."""

    ax: float
    bx: float
    ay: float
    by: float

    def then(self, ax: float, bx: float, ay: float, by: float) -> AxisMap:
        """Follow this map by src' = a * src + b (change the source's units)."""
        return AxisMap(ax * self.ax, ax * self.bx + bx, ay * self.ay, ay * self.by + by)

    def after(self, ax: float, bx: float, ay: float, by: float) -> AxisMap:
        """Precede this map by dest = a * dest' + b (change the destination's units)."""
        return AxisMap(self.ax * ax, self.ax * bx + self.bx, self.ay * ay, self.ay * by + self.by)

    def sources(
        self, shape: Shape, source_shape: Shape | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every cell of a destination grid: the source (row, col) it samples and whether
        that source lies inside the source grid (by default of the same shape)."""
        source_shape = source_shape or shape
        cols = np.arange(shape[1], dtype=np.float64) + 0.5
        rows = np.arange(shape[0], dtype=np.float64) + 0.5
        src_col = np.floor(self.ax * cols + self.bx).astype(np.intp)
        src_row = np.floor(self.ay * rows + self.by).astype(np.intp)
        valid_col = (src_col >= 0) & (src_col < source_shape[1])
        valid_row = (src_row >= 0) & (src_row < source_shape[0])
        valid = valid_row[:, None] & valid_col[None, :]
        src_row = np.broadcast_to(np.where(valid_row, src_row, 0)[:, None], shape)
        src_col = np.broadcast_to(np.where(valid_col, src_col, 0)[None, :], shape)
        return src_row, src_col, valid

    def place(self, mask: np.ndarray, shape: Shape | None = None) -> np.ndarray:
        """The source mask carried onto a destination grid (by default of its own shape)."""
        src_row, src_col, valid = self.sources(shape or mask.shape, mask.shape)
        return valid & mask[src_row, src_col]

    def carry(self, values: np.ndarray, shape: Shape | None = None) -> np.ndarray:
        """Any per-pixel values (alpha) carried like `place` carries a mask; 0 where no
        source pixel maps."""
        src_row, src_col, valid = self.sources(shape or values.shape[:2], values.shape[:2])
        return np.where(valid, values[src_row, src_col], 0).astype(values.dtype)

    def pairs(self, mask: np.ndarray, shape: Shape | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices (destination, source) of every placed cell and the source cell it
        shows: the pixel pairing of the move and paste energies."""
        shape = shape or mask.shape
        src_row, src_col, valid = self.sources(shape, mask.shape)
        placed = valid & mask[src_row, src_col]
        dest = np.flatnonzero(placed)
        source = (src_row * mask.shape[1] + src_col).ravel()[dest]
        return dest, source


@dataclass(frozen=True)
class Placement:
    """A scale s about a centre c followed by a shift d: q = c + s (p - c) + d."""

    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    cx: float = 0.0
    cy: float = 0.0

    def map(self, x: float, y: float) -> tuple[float, float]:
        """Where the point p = (x, y) lands: q = c + s (p - c) + d."""
        s = self.scale
        return self.cx + s * (x - self.cx) + self.dx, self.cy + s * (y - self.cy) + self.dy

    def map_box(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """Where an (x0, y0, x1, y1) box lands (a scale is never negative, so the corners
        keep their order)."""
        return (*self.map(box[0], box[1]), *self.map(box[2], box[3]))

    def rescaled(self, fx: float, fy: float) -> Placement:
        """The same placement measured in another grid's units."""
        return Placement(self.scale, self.dx * fx, self.dy * fy, self.cx * fx, self.cy * fy)

    def inverse(self) -> AxisMap:
        """p = c + (q - d - c) / s, as an AxisMap."""
        s = self.scale
        return AxisMap(
            1 / s, self.cx - (self.dx + self.cx) / s, 1 / s, self.cy - (self.dy + self.cy) / s
        )

    def sources(self, shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.inverse().sources(shape)

    def place(self, mask: np.ndarray) -> np.ndarray:
        """The mask moved and scaled, cropped at the borders."""
        return self.inverse().place(mask)

    def pairs(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.inverse().pairs(mask)


def block_mask(shape: Shape, col: int, row: int, radius: int = 1) -> np.ndarray:
    """A (2 radius + 1)^2 block around a cell, cropped at the borders (drag's handle masks)."""
    mask = np.zeros(shape, dtype=bool)
    mask[max(row - radius, 0) : row + radius + 1, max(col - radius, 0) : col + radius + 1] = True
    return mask


def disc_mask(shape: Shape, x: float, y: float, radius: float) -> np.ndarray:
    """Pixels within radius of (x, y) (pixel centres), used to grow a region around a point."""
    rows, cols = np.ogrid[0 : shape[0], 0 : shape[1]]
    return (cols + 0.5 - (x + 0.5)) ** 2 + (rows + 0.5 - (y + 0.5)) ** 2 <= radius * radius


@dataclass(frozen=True)
class Letterbox:
    """A reference image fitted into the base's working frame with its aspect kept and the
    rest padded (ALGORITHM.md §2.5): working x = offset_x + ratio * reference x."""

    ratio: float
    offset_x: int
    offset_y: int
    inner: tuple[int, int]  # (width, height) of the fitted image
    frame: tuple[int, int]  # (width, height) of the working frame

    @classmethod
    def fit(cls, width: int, height: int, frame_w: int, frame_h: int) -> Letterbox:
        ratio = min(frame_w / width, frame_h / height)
        inner_w = max(1, min(frame_w, round(width * ratio)))
        inner_h = max(1, min(frame_h, round(height * ratio)))
        return cls(
            ratio,
            (frame_w - inner_w) // 2,
            (frame_h - inner_h) // 2,
            (inner_w, inner_h),
            (frame_w, frame_h),
        )

    def image(self, rgb: np.ndarray) -> np.ndarray:
        """The fitted image (Lanczos), padded with its own mean colour."""
        canvas = np.empty((self.frame[1], self.frame[0], 3), dtype=np.uint8)
        canvas[:] = rgb.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
        fitted = np.asarray(Image.fromarray(rgb).resize(self.inner, Image.LANCZOS))
        canvas[
            self.offset_y : self.offset_y + self.inner[1],
            self.offset_x : self.offset_x + self.inner[0],
        ] = fitted
        return canvas

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """The mask fitted the same way (area resize, 0.5 threshold, never vanishing)."""
        canvas = np.zeros((self.frame[1], self.frame[0]), dtype=bool)
        fitted = resize_mask(mask, (self.inner[1], self.inner[0]))
        canvas[
            self.offset_y : self.offset_y + self.inner[1],
            self.offset_x : self.offset_x + self.inner[0],
        ] = fitted
        return canvas

    def to_grid(self, shape: Shape) -> tuple[float, float, float, float]:
        """(ax, bx, ay, by) taking reference pixels to cells of a grid over the frame."""
        gx, gy = shape[1] / self.frame[0], shape[0] / self.frame[1]
        return self.ratio * gx, self.offset_x * gx, self.ratio * gy, self.offset_y * gy
