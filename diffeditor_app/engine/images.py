"""Reading images and masks the way users have them: any mode, EXIF-rotated, any size."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from diffeditor_app.engine.errors import InvalidInput

MAX_PIXELS = 250_000_000  # ~18000 x 14000: past this an edit's buffers outgrow a desktop
Image.MAX_IMAGE_PIXELS = None  # PIL's bomb guard warns from 89 MP; MAX_PIXELS replaces it

_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_HIGH_DEPTH_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_TRNS_MODES = {"P", "L", "RGB"}  # modes whose "transparency" info means see-through pixels


@dataclass(frozen=True, eq=False)
class SourceImage:
    """An image as the editor sees it: 8-bit RGB, plus the alpha channel when it had one."""

    rgb: np.ndarray  # H x W x 3, uint8
    alpha: np.ndarray | None = None  # H x W, uint8
    name: str = "image"
    _digest: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.rgb.dtype != np.uint8 or self.rgb.ndim != 3 or self.rgb.shape[2] != 3:
            raise InvalidInput("An image must be H x W x 3 8-bit RGB.")
        if self.alpha is not None and self.alpha.shape != self.rgb.shape[:2]:
            raise InvalidInput("The alpha channel must have the image's size.")

    @property
    def width(self) -> int:
        return self.rgb.shape[1]

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), PIL's order."""
        return self.width, self.height

    def digest(self) -> str:
        """Content hash of the RGB pixels: the image part of the prepare cache key."""
        if not self._digest:
            h = hashlib.sha1(np.ascontiguousarray(self.rgb).tobytes())
            h.update(str(self.rgb.shape).encode())
            self._digest.append(h.hexdigest())
        return self._digest[0]

    def to_pil(self) -> Image.Image:
        if self.alpha is None:
            return Image.fromarray(self.rgb, "RGB")
        return Image.fromarray(np.dstack([self.rgb, self.alpha]), "RGBA")

    @classmethod
    def from_pil(cls, image: Image.Image, name: str = "image") -> SourceImage:
        """Any PIL image, EXIF orientation applied, converted to 8-bit RGB (+ alpha)."""
        image = ImageOps.exif_transpose(image)
        if image.mode in _HIGH_DEPTH_MODES:
            image = _to_8bit(image)
        if image.mode in _TRNS_MODES and "transparency" in image.info:
            image = image.convert("RGBA")  # a palette or tRNS colour key is an alpha channel
        alpha = None
        if image.mode in _ALPHA_MODES:
            rgba = np.asarray(image.convert("RGBA"))
            alpha = np.ascontiguousarray(rgba[..., 3])
            rgb = np.ascontiguousarray(rgba[..., :3])
        else:
            rgb = np.asarray(image.convert("RGB"))
        return cls(rgb=np.ascontiguousarray(rgb, dtype=np.uint8), alpha=alpha, name=name)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey to 8 bits by range, not by clipping (PIL's convert clips)."""
    values = np.asarray(image, dtype=np.float64)
    peak = float(values.max(initial=0))
    top = 255.0
    if image.mode.startswith("I;16") or peak > 255:
        top = 65535.0
    if peak > 65535:  # 32-bit data: scale by its own range rather than clip it to white
        top = peak
    if image.mode == "F" and peak <= 1.0:
        top = 1.0
    grey = np.clip(np.round(values * (255.0 / top)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L")


def open_image(path: str | Path) -> Image.Image:
    """Open a file as a PIL image, or say in one sentence why it cannot be read.

    Use it as a context manager (`with open_image(path) as image:`) so the file is closed
    even for formats that keep it open after `load()` (multi-frame GIF and TIFF)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"'{path}' does not exist or is not a file.")
    image = None
    try:
        image = Image.open(path)
        if image.width * image.height > MAX_PIXELS:
            _close(image)
            raise InvalidInput(
                f"'{path}' is {image.width}x{image.height}; images up to "
                f"{MAX_PIXELS // 1_000_000} megapixels can be edited."
            )
        image.load()
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        _close(image)
        raise InvalidInput(f"'{path}' is not an image this editor can read ({error}).") from None
    return image


def _close(image: Image.Image | None) -> None:
    if image is not None:
        image.close()


def load_image(path: str | Path) -> SourceImage:
    """Read an image file for editing; the file itself is only ever read."""
    with open_image(path) as image:
        return SourceImage.from_pil(image, name=Path(path).name)


def mask_from_pil(image: Image.Image, size: tuple[int, int], what: str = "mask") -> np.ndarray:
    """Non-zero pixels (and non-transparent, where there is alpha) are inside."""
    image = ImageOps.exif_transpose(image)
    if image.size != size:
        raise InvalidInput(
            f"The {what} is {image.size[0]}x{image.size[1]} but the image is "
            f"{size[0]}x{size[1]}; a mask must have the image's size."
        )
    if image.mode in _HIGH_DEPTH_MODES:
        values = np.asarray(image) != 0
        return np.ascontiguousarray(values)
    if image.mode in {"1", "L", "RGB"} and "transparency" not in image.info:
        values = np.asarray(image)  # no RGBA copy: masks can be 8000 x 6000
        inside = values.any(axis=2) if values.ndim == 3 else values != 0
        return np.ascontiguousarray(inside)
    rgba = np.asarray(image.convert("RGBA"))
    inside = rgba[..., :3].max(axis=2) > 0
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        inside &= rgba[..., 3] > 0
    return np.ascontiguousarray(inside)


def load_mask(path: str | Path, size: tuple[int, int], what: str = "mask") -> np.ndarray:
    """Read a mask file of the image's size as a boolean H x W array."""
    with open_image(path) as image:
        return mask_from_pil(image, size, what=f"{what} '{Path(path).name}'")
