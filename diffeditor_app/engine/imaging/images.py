"""Reading images and masks the way users have them: any mode, EXIF-rotated, any size."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from diffeditor_app.engine.errors import InvalidInput, first_line, quoted

MAX_PIXELS = 250_000_000  # ~18000 x 14000: past this an edit's buffers outgrow a desktop
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's bomb guard stays on, at our limit (never None)
MASK_THRESHOLD = 128  # 50% of 8 bits: JPEG noise and anti-aliased edges stay on their side

_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_HIGH_DEPTH_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_TRNS_MODES = {"P", "L", "RGB"}  # modes whose "transparency" info means see-through pixels
_DEEP_GREY_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}  # 16-bit grey a PNG or TIFF keeps


@dataclass(frozen=True, eq=False)
class SourceInfo:
    """What an output keeps of its input file besides the pixels (outputs.py writes it)."""

    exif: bytes | None = None  # orientation reset: the pixels are already upright
    icc_profile: bytes | None = None
    dpi: tuple[float, float] | None = None
    frames: int = 1  # more than one: an animation, of which the first frame is edited
    deep: np.ndarray | None = None  # H x W uint16: the 16-bit grey pixels, upright

    @classmethod
    def of(cls, image: Image.Image, upright: Image.Image) -> SourceInfo:
        """From a file's image and its `exif_transpose`d copy, whose EXIF has no rotation."""
        try:
            tags = upright.getexif()
            exif = tags.tobytes() if len(tags) else None
        except (ValueError, OSError, SyntaxError):  # a damaged EXIF block is left behind
            exif = None
        dpi = image.info.get("dpi")
        deep = None
        if upright.mode in _DEEP_GREY_MODES:
            deep = np.ascontiguousarray(np.asarray(upright), dtype=np.uint16)
        return cls(
            exif=exif,
            icc_profile=image.info.get("icc_profile") or None,
            dpi=(float(dpi[0]), float(dpi[1])) if dpi else None,
            frames=int(getattr(image, "n_frames", 1)),
            deep=deep,
        )


@dataclass(frozen=True, eq=False)
class SourceImage:
    """An image as the editor sees it: 8-bit RGB, plus the alpha channel when it had one."""

    rgb: np.ndarray  # H x W x 3, uint8
    alpha: np.ndarray | None = None  # H x W, uint8
    name: str = "image"
    info: SourceInfo = field(default_factory=SourceInfo, repr=False)
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
        upright = ImageOps.exif_transpose(image)
        info = SourceInfo.of(image, upright)
        image = upright
        keyed = None  # a 16-bit grey PNG's tRNS colour key: its see-through pixels
        if image.mode in _HIGH_DEPTH_MODES:
            key = image.info.get("transparency")
            if isinstance(key, int) and not isinstance(key, bool):
                keyed = np.where(np.asarray(image) == key, 0, 255).astype(np.uint8)
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
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        if keyed is not None:
            alpha = keyed
        return cls(rgb=rgb, alpha=alpha, name=name, info=info)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey to 8 bits by range, not by clipping (PIL's convert clips)."""
    values = np.asarray(image, dtype=np.float64)
    values = np.where(np.isfinite(values), values, 0.0)  # a float TIFF's NaN or inf: black
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


def open_image(path: str | Path, data: bytes | None = None) -> Image.Image:
    """Open a file (or `data`, the bytes of a file called `path`) as a PIL image, or say in
    one sentence why it cannot be read. Every image the app reads comes through here, so
    the pixel limit is checked from the header, before anything is decoded.

    Use it as a context manager (`with open_image(path) as image:`) so the file is closed
    even for formats that keep it open after `load()` (multi-frame GIF and TIFF)."""
    path = Path(path)
    if data is None and not path.is_file():
        raise InvalidInput(f"{quoted(path)} does not exist or is not a file.")
    too_big = (
        f"{quoted(path)} is larger than {MAX_PIXELS // 1_000_000} megapixels, "
        "the most this editor can edit."
    )
    image = None
    try:
        with warnings.catch_warnings():  # Pillow's bomb warning: the check below says it
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path if data is None else io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            _close(image)
            raise InvalidInput(
                f"{quoted(path)} is {image.width}x{image.height}; images up to "
                f"{MAX_PIXELS // 1_000_000} megapixels can be edited."
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        _close(image)
        raise InvalidInput(too_big) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        _close(image)
        why = (  # Pillow's own sentence names the stream object, not the file
            "not a format it knows"
            if isinstance(error, UnidentifiedImageError)
            else first_line(error)
        )
        raise InvalidInput(
            f"{quoted(path)} is not an image this editor can read ({why})."
        ) from None
    return image


def _close(image: Image.Image | None) -> None:
    if image is not None:
        image.close()


def load_image(path: str | Path) -> SourceImage:
    """Read an image file for editing; the file itself is only ever read."""
    with open_image(path) as image:
        return SourceImage.from_pil(image, name=Path(path).name)


def mask_from_pil(image: Image.Image, size: tuple[int, int], what: str = "mask") -> np.ndarray:
    """At least half-bright pixels (and at least half-opaque, where there is alpha) are
    inside: a JPEG's near-black noise or a soft brush edge is not a stroke. Bilevel masks
    and 16/32-bit masks count every non-zero pixel."""
    image = ImageOps.exif_transpose(image)
    if image.size != size:
        raise InvalidInput(
            f"The {what} is {image.size[0]}x{image.size[1]} but the image is "
            f"{size[0]}x{size[1]}; a mask must have the image's size."
        )
    if image.mode in _HIGH_DEPTH_MODES or image.mode == "1":
        return np.ascontiguousarray(np.asarray(image) != 0)
    if image.mode in {"L", "RGB"} and "transparency" not in image.info:
        values = np.asarray(image)  # no RGBA copy: masks can be 8000 x 6000
        brightest = values.max(axis=2) if values.ndim == 3 else values
        return np.ascontiguousarray(brightest >= MASK_THRESHOLD)
    rgba = np.asarray(image.convert("RGBA"))
    inside = rgba[..., :3].max(axis=2) >= MASK_THRESHOLD
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        inside &= rgba[..., 3] >= MASK_THRESHOLD
    return np.ascontiguousarray(inside)


def load_mask(path: str | Path, size: tuple[int, int], what: str = "mask") -> np.ndarray:
    """Read a mask file of the image's size as a boolean H x W array."""
    with open_image(path) as image:
        return mask_from_pil(image, size, what=f"{what} '{Path(path).name}'")
