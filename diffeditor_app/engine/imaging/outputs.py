"""Writing what an edit makes without harming what the user gave.

Every file the user handed in (the image, its masks, the reference) is refused as an output
(through symlinks, hard links and `..`); previews never replace a file this run did not
create; outputs are written to a temporary file and renamed, so a failure leaves nothing
half-written and a link at the output path is replaced, never written through.
"""

from __future__ import annotations

import io
import math
import os
import stat
import struct
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from diffeditor_app.engine.errors import InvalidInput, first_line, quoted
from diffeditor_app.engine.imaging.images import SourceImage

SAVE_FORMATS = {  # output suffix -> Pillow format
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
LOSSY_FORMATS = {"JPEG"}  # WebP is written lossless
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}  # Pillow reads a BMP's alpha back as padding
DEEP_FORMATS = {"PNG", "TIFF"}  # formats that hold 16-bit grey
EXIF_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF"}
ICC_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF"}
DPI_FORMATS = {"PNG", "JPEG", "TIFF", "BMP"}
JPEG_QUALITY = 95  # Pillow's default 75 smears edges; 95 is near the eye's limit
MAX_SIDE = {  # pixels a side each format can hold (JPEG's 16-bit size fields less libjpeg's
    "PNG": 2**31 - 1,  # margin, WebP's 14-bit ones)
    "JPEG": 65_500,
    "WEBP": 16_383,
    "TIFF": 2**32 - 1,
    "BMP": 2**31 - 1,
}
METADATA = {"exif": "EXIF data", "icc_profile": "ICC colour profile", "dpi": "resolution (dpi)"}
SAVE_ERRORS = (OSError, ValueError, TypeError, OverflowError, struct.error)  # Pillow refusing


def preview_name(step: int) -> str:
    """`step_000.png`, `step_001.png`, ... (docs/ARCHITECTURE.md, The command line)."""
    return f"step_{step:03d}.png"


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same inode (symlinks, hard links), or the same
    place once `..` is taken lexically (`new/../in.png` is `in.png` once `new/` is made)."""
    try:
        if a.exists() and b.exists() and os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return Path(os.path.abspath(a)).resolve() == Path(os.path.abspath(b)).resolve()


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable_folder(folder: Path, option: str) -> None:
    """The folder exists or can be made: a file can really be created in its nearest existing
    ancestor (permission bits alone would pass /proc or a read-only mount for root)."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise InvalidInput(
            f"{option} cannot be written: {quoted(existing)} is a file, not a folder."
        )
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".diffeditor-probe-")
    except OSError as error:
        raise InvalidInput(
            f"{option} cannot be written: the folder {quoted(existing)} takes no new files "
            f"({first_line(error)})."
        ) from None
    os.close(handle)
    os.unlink(probe)


@dataclass(frozen=True)
class UserFiles:
    """The files a user handed in, by what they are ("the input image" -> path)."""

    given: dict[str, Path] = field(default_factory=dict)
    # Folders no output goes into, by what they are ("DiffEditor's own samples" -> folder).
    protected: dict[str, Path] = field(default_factory=dict)

    def which(self, path: Path) -> str | None:
        """What `path` is among the given files, or None when it is none of them."""
        for what, source in self.given.items():
            if same_file(path, source):
                return what
        return None

    def check_output(
        self, path: Path, option: str = "--out", formats: Iterable[str] = SAVE_FORMATS
    ) -> Path:
        """An output file path: a known format, a new name or an earlier output, never a
        given file nor one in a protected folder, in a folder that can be written. Checked
        before any model work."""
        path = Path(path)
        if path.suffix.lower() not in formats:
            raise InvalidInput(f"{option} must end in one of {', '.join(sorted(formats))}.")
        what = self.which(path)
        if what is not None:
            raise InvalidInput(f"{option} is {what}; input files are never overwritten.")
        resolved = Path(os.path.abspath(path)).resolve()
        for what, folder in self.protected.items():
            if resolved.is_relative_to(Path(os.path.abspath(folder)).resolve()):
                raise InvalidInput(f"{option} is inside {what}; choose another folder.")
        if path.is_dir():
            raise InvalidInput(
                f"{option} {quoted(path)} is a folder; give a file name such as out.png."
            )
        _check_writable_folder(path.parent, option)
        return path

    def check_previews(self, folder: Path, steps: int, option: str = "--previews") -> Path:
        """A previews folder that this run can fill without replacing any file in it."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InvalidInput(f"{option} {quoted(folder)} is not a folder.")
        _check_writable_folder(folder, option)
        for step in range(steps):
            path = folder / preview_name(step)
            what = self.which(path)
            if what is not None:
                raise InvalidInput(
                    f"{option} would write over {what} {quoted(path.name)}; "
                    "input files are never overwritten."
                )
            if os.path.lexists(path):
                raise InvalidInput(
                    f"{option} {quoted(folder)} already holds {path.name}; choose an empty folder."
                )
        return folder


def write_new(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create a file that must not exist yet (a preview): never replaces anything."""
    try:
        with open(path, "xb") as handle:
            write(handle)
    except FileExistsError:
        raise InvalidInput(
            f"{quoted(path)} appeared during the edit; it was left as it is."
        ) from None


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux);
    elsewhere set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: Path, new_mode: int | None) -> int:
    """What the written file's permission bits will be: an existing regular file keeps its
    own; a new one gets `new_mode`, else what `open()` would give it (0666 less the umask)."""
    try:
        existing = os.stat(path)
        if stat.S_ISREG(existing.st_mode):
            return stat.S_IMODE(existing.st_mode)
    except OSError:
        pass
    return new_mode if new_mode is not None else 0o666 & ~_umask()


def write_atomically(
    path: Path, write: Callable[[BinaryIO], None], new_mode: int | None = None
) -> None:
    """Write beside `path` and rename over it: a crash never leaves half a file, and a link
    at `path` is replaced by the new file instead of writing into what it points to. An
    existing file keeps its permissions; a new file gets the umask's (or `new_mode`, for a
    file that holds a secret). The one writer of every file the app keeps: images,
    projects, settings, weights, checkpoints."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path, new_mode)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)  # mkstemp makes it 0600
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_preview(preview: np.ndarray, path: Path) -> None:
    """One per-step preview, as a new PNG file."""
    write_new(path, lambda stream: Image.fromarray(preview).save(stream, "PNG"))


def _deep_grey(picture: Image.Image, source: SourceImage) -> Image.Image:
    """16-bit grey again: the input's own 16-bit values wherever the 8-bit result still
    equals the input (everything outside the edit region), the result widened elsewhere."""
    rgb = np.asarray(picture.convert("RGB"))
    unchanged = (rgb == source.rgb).all(axis=2)
    widened = np.asarray(picture.convert("L")).astype(np.uint16) * 257
    return Image.fromarray(np.where(unchanged, source.info.deep, widened).astype(np.uint16))


def _save_params(fmt: str, source: SourceImage | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if fmt == "WEBP":
        params["lossless"] = True
    if fmt == "JPEG":
        params["quality"] = JPEG_QUALITY
    if source is None:
        return params
    info = source.info
    if info.exif and fmt in EXIF_FORMATS:
        params["exif"] = info.exif
    if info.icc_profile and fmt in ICC_FORMATS:
        params["icc_profile"] = info.icc_profile
    if info.dpi and fmt in DPI_FORMATS and all(math.isfinite(d) and d > 0 for d in info.dpi):
        params["dpi"] = info.dpi
    return params


def _trial_save(fmt: str, params: dict[str, Any]) -> None:
    """Save a tiny image with these parameters: what the format refuses of the metadata
    (an EXIF block past JPEG's 64 KB, a resolution PNG cannot store) shows here at once."""
    Image.new("RGB", (8, 8)).save(io.BytesIO(), fmt, **params)


@dataclass(frozen=True)
class ExportPlan:
    """How an output file will be written, decided before the edit runs: its format, the
    input's metadata it can hold, and a note for each part it cannot."""

    format: str
    params: dict[str, Any]
    notes: tuple[str, ...] = ()


def plan_export(
    path: Path, size: tuple[int, int] | None, source: SourceImage | None = None
) -> ExportPlan:
    """Check that an image of `size` (None: small enough for every format) can be written to
    `path` in its format, with as much of the input's metadata as the format takes; refuse
    (one sentence) what it cannot hold at all. The CLI calls it before any model work, so a
    result is never lost at the end."""
    path = Path(path)
    fmt = SAVE_FORMATS[path.suffix.lower()]
    side = MAX_SIDE[fmt]
    if size is not None and max(size) > side:
        raise InvalidInput(
            f"A {fmt} file holds images up to {side} pixels a side, and this one is "
            f"{size[0]}x{size[1]}; write .png or .tif instead."
        )
    params = _save_params(fmt, source)
    notes = []
    for key, what in METADATA.items():
        if key not in params:
            continue
        try:
            _trial_save(fmt, {k: v for k, v in params.items() if k not in METADATA or k == key})
        except SAVE_ERRORS as error:
            del params[key]
            notes.append(
                f"The input's {what} cannot be written to a {fmt} file ({first_line(error)}); "
                "the result was written without it."
            )
    try:
        _trial_save(fmt, params)
    except SAVE_ERRORS as error:
        raise InvalidInput(
            f"{quoted(path)} cannot be written as {fmt} ({first_line(error)})."
        ) from None
    return ExportPlan(fmt, params, tuple(notes))


def export_image(
    picture: Image.Image,
    path: Path,
    source: SourceImage | None = None,
    plan: ExportPlan | None = None,
) -> list[str]:
    """Write an edit's result, keeping what the input had (EXIF with the orientation reset,
    ICC profile, DPI, 16-bit grey, alpha) as far as the format allows; one-line notes say
    what the format could not keep. `source` is the input the result was composed on (None
    for a working-size decode); `plan` is plan_export()'s, made before the edit (else here).
    The CLI and the app both save through here."""
    path = Path(path)
    if plan is None:
        plan = plan_export(path, picture.size, source)
    fmt = plan.format
    notes = list(plan.notes)
    info = source.info if source is not None else None
    if info is not None and info.frames > 1:
        notes.append(
            f"The input is animated ({info.frames} frames): only its first frame was "
            "edited and written."
        )
    if picture.mode == "RGBA" and fmt not in ALPHA_FORMATS:
        picture = picture.convert("RGB")
        notes.append(
            f"{fmt} has no transparency: the alpha channel was dropped; "
            "write .png or .webp to keep it."
        )
    if fmt in LOSSY_FORMATS:
        notes.append(
            f"{fmt} is lossy: pixels outside the edit region differ slightly from the "
            "input; write .png or .webp to keep them exact."
        )
    if info is not None and info.deep is not None and picture.size == source.size:
        if fmt in DEEP_FORMATS and picture.mode != "RGBA":
            picture = _deep_grey(picture, source)
        else:
            notes.append(
                f"The input has 16 bits per pixel and this {fmt} has 8; "
                "write .png or .tif to keep 16."
            )
    write_atomically(path, lambda stream: picture.save(stream, fmt, **plan.params))
    return notes
