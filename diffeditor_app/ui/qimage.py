"""numpy / PIL <-> QImage: every function copies, so the QImage never points at numpy memory.

Mask overlays are ARGB32 premultiplied (Qt's fastest format to draw) and transparent
outside the mask; `overlay_pixels` gives the same pixels as a uint32 array so the canvas
can repaint one bounding box of a large overlay in place.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QColor, QImage

from diffeditor_app.engine.imaging.images import SourceImage


def rgb_to_qimage(rgb: np.ndarray, alpha: np.ndarray | None = None) -> QImage:
    """H x W x 3 uint8 (+ H x W uint8 alpha) -> an RGB888 (or RGBA8888) QImage that owns
    its pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    if alpha is None:
        view = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    else:
        rgba = np.ascontiguousarray(np.dstack([rgb, np.asarray(alpha, dtype=np.uint8)]))
        view = QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return view.copy()  # detach from the numpy buffer


def overlay_value(color: QColor, opacity: float) -> np.uint32:
    """One premultiplied ARGB32 pixel of `color` at `opacity` (times the colour's alpha)."""
    a = round(255 * min(max(opacity, 0.0), 1.0) * color.alphaF())
    r, g, b = (round(c * a / 255) for c in (color.red(), color.green(), color.blue()))
    return np.uint32((a << 24) | (r << 16) | (g << 8) | b)


def overlay_pixels(mask: np.ndarray, color: QColor, opacity: float) -> np.ndarray:
    """The overlay of a boolean mask as H x W uint32 premultiplied ARGB32 values."""
    return np.where(mask, overlay_value(color, opacity), np.uint32(0)).astype(np.uint32)


def mask_overlay(mask: np.ndarray, color: QColor, opacity: float) -> QImage:
    """A boolean mask as a translucent colour layer (ARGB32 premultiplied, transparent
    outside the mask)."""
    pixels = np.ascontiguousarray(overlay_pixels(mask, color, opacity))
    height, width = mask.shape
    view = QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_ARGB32_Premultiplied)
    return view.copy()


def pil_to_qimage(image: Image.Image) -> QImage:
    """Any PIL image the engine accepts (EXIF orientation applied, any mode) -> QImage."""
    source = SourceImage.from_pil(image)
    return rgb_to_qimage(source.rgb, source.alpha)


def qimage_array(image: QImage) -> np.ndarray:
    """A writable H x W uint32 view of a 32-bit QImage's pixels (valid while the image
    lives and is not copied-on-write; take a fresh view for each update)."""
    assert image.depth() == 32
    rows = np.frombuffer(image.bits(), dtype=np.uint32).reshape(image.height(), -1)
    return rows[:, : image.width()]


def cutout(rgb: np.ndarray, mask: np.ndarray, bbox: tuple[int, int, int, int]) -> QImage:
    """The pixels of `rgb` under `mask`, cropped to `bbox` (x0, y0, x1, y1), transparent
    elsewhere: the ghost of a moved object or a pasted reference object."""
    x0, y0, x1, y1 = bbox
    alpha = np.where(mask[y0:y1, x0:x1], 255, 0).astype(np.uint8)
    image = rgb_to_qimage(rgb[y0:y1, x0:x1], alpha)
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
