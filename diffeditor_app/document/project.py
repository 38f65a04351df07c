"""`.diffedit` project files: one zip holding the original, the current image, the masks,
points, layers, settings and kept results, so a session can be saved and reopened.

A project file is untrusted input (it may come from anyone): every member's size is checked
before and while it is decompressed, images obey the editor's pixel limit before they are
decoded, and the manifest is checked field by field against its schema, so a crafted file
is one sentence and never a crash.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import warnings
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
from PIL import Image

from diffeditor_app.document.state import (
    DragPair,
    EditOptions,
    FaceSetup,
    MaskName,
    MoveBox,
    PasteLayer,
    SessionState,
    prompt_slot,
)
from diffeditor_app.engine.errors import InvalidInput, first_line, quoted
from diffeditor_app.engine.face.align import GROUPS
from diffeditor_app.engine.face.landmarks import POINTS
from diffeditor_app.engine.face.sliders import SLIDER_RANGE, Sliders
from diffeditor_app.engine.imaging.images import MAX_PIXELS, SourceImage, mask_from_pil, open_image
from diffeditor_app.engine.imaging.outputs import write_atomically
from diffeditor_app.engine.limits import MAX_SCALE, MIN_SCALE, OPTION_RANGES, SEED_RANGE
from diffeditor_app.engine.requests import REACH, Point
from diffeditor_app.engine.settings import Quality
from diffeditor_app.engine.tasks.registry import Task

FORMAT = "diffedit"
VERSION = 4  # 4: face_setup; 3: options.eta_in (2: flexibility; 1: one prompt; all read)
MANIFEST = "project.json"
MAX_MANIFEST_BYTES = 1 << 20  # a manifest is a few KB: prompts, points, numbers
MAX_MANIFEST_DEPTH = 6  # the schema nests 4 deep (pairs -> pair -> point -> number)
MAX_TEXT_CHARS = 10_000  # a prompt; CLIP reads 77 tokens of it anyway
MAX_PAIRS = 100  # drag pairs; the method is meant for a handful
MAX_FACES = 100  # the face chosen is one of at most this many found
MAX_KEPT = 999  # kept results, named kept/000.png .. kept/999.png
MAX_MEMBERS = MAX_KEPT + 16  # the kept results and a few more members
MAX_IMAGE_BYTES = 4 * MAX_PIXELS + (1 << 20)  # a PNG of the largest RGBA image, and some
MAX_PROJECT_BYTES = 4 * MAX_IMAGE_BYTES  # every member decompressed, together
MAX_PROJECT_PIXELS = 400_000_000  # every image and mask together, decoded (~1.2 GB as RGB)
IMAGE_MEMBERS = ("original.png", "current.png", "reference.png")  # besides masks/ and kept/


class _Invalid(Exception):
    """One field or member of a project that breaks the schema; becomes InvalidInput."""


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _mask_png(mask: np.ndarray) -> bytes:
    return _png(Image.fromarray(mask.astype(np.uint8) * 255, "L"))


def _point(value) -> list[float] | None:
    return None if value is None else [float(value[0]), float(value[1])]


def _session_pixels(state: SessionState) -> int:
    images = [state.original, state.current, *state.kept]
    if state.reference is not None:
        images.append(state.reference)
    return sum(i.width * i.height for i in images) + sum(m.size for m in state.masks.values())


def save_project(state: SessionState, path: Path, origin: Path | None = None) -> None:
    """Write atomically: a crash while saving never leaves a broken project behind. A
    session past the pixel budget is refused before anything is written: its file could
    not be opened again. `origin` names the file the session came from (an autosave keeps
    it as a hint)."""
    pixels = _session_pixels(state)
    if pixels > MAX_PROJECT_PIXELS:
        raise InvalidInput(
            f"This session holds {pixels:,} pixels of images and masks, more than the "
            f"{MAX_PROJECT_PIXELS:,} a project may hold; discard some kept results first."
        )
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "task": state.task.value,
        "prompts": {task.value: text for task, text in state.prompts.items()},
        "reference_prompt": state.reference_prompt,
        "seed": state.seed,
        "options": asdict(state.options),
        "box": asdict(state.box),
        "paste": {"at": _point(state.paste.at), "scale": state.paste.scale},
        "pairs": [{"handle": _point(p.handle), "target": _point(p.target)} for p in state.pairs],
        "face_setup": asdict(state.face_setup),
        "masks": sorted(name.value for name in state.masks),
        "kept": len(state.kept),
        "has_reference": state.reference is not None,
    }
    if origin is not None:
        manifest["origin"] = str(origin)

    def write(stream) -> None:
        with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
            archive.writestr("original.png", _png(state.original.to_pil()))
            archive.writestr("current.png", _png(state.current.to_pil()))
            for name, mask in state.masks.items():
                archive.writestr(f"masks/{name.value}.png", _mask_png(mask))
            if state.reference is not None:
                archive.writestr("reference.png", _png(state.reference.to_pil()))
            for number, image in enumerate(state.kept):
                archive.writestr(f"kept/{number:03d}.png", _png(image.to_pil()))

    write_atomically(Path(path), write)


def _nesting_depth(text: str) -> int:
    """How deep arrays and objects nest, counted in one pass without parsing (so a crafted
    file can neither exhaust the parser's recursion nor make the count itself slow):
    brackets inside string literals, escaped quotes included, do not count."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A member's bytes, refused past `limit` by its declared size and again while reading."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _Invalid(f"it has no {name}") from None
    if info.file_size > limit:
        raise _Invalid(f"{name} would be {info.file_size:,} bytes, more than {limit:,}")
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise _Invalid(f"{name} is more than {limit:,} bytes")
    return data


def _named_twice(names: Iterable[str]) -> str | None:
    """The first name that comes a second time (a zip member, a manifest key), else None."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _check_archive(archive: zipfile.ZipFile) -> None:
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise _Invalid(f"it has {len(members)} members, more than {MAX_MEMBERS}")
    twice = _named_twice(info.filename for info in members)
    if twice is not None:
        raise _Invalid(f"it holds {quoted(twice)} twice")
    total = sum(info.file_size for info in members)
    if total > MAX_PROJECT_BYTES:
        raise _Invalid(f"it would be {total:,} bytes decompressed, more than {MAX_PROJECT_BYTES:,}")


def _header_pixels(archive: zipfile.ZipFile, name: str) -> int:
    """An image member's pixel count from its header alone: nothing is decoded."""
    try:
        with (
            warnings.catch_warnings(),  # Pillow's bomb warning: the budget says it
            archive.open(name) as stream,
            Image.open(stream) as picture,
        ):
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            width, height = picture.size
    except KeyError:
        return 0  # a missing member is reported when it is read
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise _Invalid(f"{name} is not an image ({first_line(error)})") from None
    if width * height > MAX_PIXELS:
        raise _Invalid(
            f"{name} is {width}x{height}, more than the {MAX_PIXELS // 1_000_000} megapixels "
            "an image may have"
        )
    return width * height


def _check_pixel_budget(archive: zipfile.ZipFile) -> None:
    """Every image and mask together within MAX_PROJECT_PIXELS, from their headers, before
    any is decoded: a few KB of zeros must not become gigabytes of memory."""
    names = [
        info.filename
        for info in archive.infolist()
        if info.filename in IMAGE_MEMBERS or info.filename.startswith(("masks/", "kept/"))
    ]
    total = sum(_header_pixels(archive, name) for name in names)
    if total > MAX_PROJECT_PIXELS:
        raise _Invalid(
            f"its images and masks hold {total:,} pixels together, more than the "
            f"{MAX_PROJECT_PIXELS:,} a project may hold"
        )


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    twice = _named_twice(key for key, _ in pairs)
    if twice is not None:
        raise _Invalid(f"{MANIFEST} names {quoted(twice)} twice")
    return dict(pairs)


def _manifest(archive: zipfile.ZipFile) -> dict:
    try:
        text = _member(archive, MANIFEST, MAX_MANIFEST_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise _Invalid(f"{MANIFEST} is not UTF-8 text") from None
    if _nesting_depth(text) > MAX_MANIFEST_DEPTH:
        raise _Invalid(f"{MANIFEST} nests deeper than {MAX_MANIFEST_DEPTH} levels")
    try:
        manifest = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except ValueError as error:  # RecursionError cannot happen: the depth is checked above
        raise _Invalid(f"{MANIFEST} is not JSON ({first_line(error)})") from None
    if not isinstance(manifest, dict):
        raise _Invalid(f"{MANIFEST} is not a JSON object")
    return manifest


def _get(record: dict, key: str, where: str):
    if key not in record:
        raise _Invalid(f"{where}{key} is missing")
    return record[key]


def _shown_number(value: float) -> str:
    """A number inside a sentence; one of hundreds of digits is described, not printed."""
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"a number of {len(str(abs(value)))} digits"
    return f"{value:g}"


def _number(value, where: str, low: float, high: float, integer: bool = False) -> float:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise _Invalid(f"{where} must be {'a whole number' if integer else 'a number'}")
    finite = isinstance(value, int) or math.isfinite(value)  # an int of 400 digits is finite
    if not (finite and low <= value <= high):  # int-float comparison is exact: no overflow
        raise _Invalid(f"{where} must be between {low:g} and {high:g}, not {_shown_number(value)}")
    return value


def _text(value, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise _Invalid(f"{where} must be text of at most {MAX_TEXT_CHARS} characters")
    return value


def _prompts(manifest: dict, task: Task) -> dict[Task, str]:
    """Each task's prompt (see session.prompt_slot). A file from before per-task prompts has
    one, typed for the task it was saved on."""
    if "prompts" not in manifest:
        return {prompt_slot(task): _text(_get(manifest, "prompt", ""), "prompt")}
    slots = {prompt_slot(t).value for t in Task}
    record = _record(manifest["prompts"], "prompts", slots)
    return {Task(key): _text(text, f"prompts.{key}") for key, text in record.items()}


def _flag(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{where} must be true or false")
    return value


def _record(value, where: str, keys: set[str]) -> dict:
    if not isinstance(value, dict):
        raise _Invalid(f"{where} must be an object")
    unknown = set(value) - keys
    if unknown:
        raise _Invalid(f"{where} has unknown fields ({', '.join(map(quoted, sorted(unknown)))})")
    return value


def _read_point(value, where: str, reach: tuple[float, float]) -> Point:
    if not isinstance(value, list) or len(value) != 2:
        raise _Invalid(f"{where} must be a pair of numbers [x, y]")
    x = _number(value[0], f"{where}[0]", -reach[0], reach[0])
    y = _number(value[1], f"{where}[1]", -reach[1], reach[1])
    return Point(float(x), float(y))


def _quality(value) -> Quality:
    if value not in [quality.value for quality in Quality]:
        choices = " or ".join(quoted(quality.value) for quality in Quality)
        raise _Invalid(f"options.quality must be {choices}")
    return Quality(value)


def _options(value, version: int) -> EditOptions:
    names = {f.name for f in fields(EditOptions)}
    if version < 3 and isinstance(value, dict) and "flexibility" in value:  # its old name
        value = {("eta_in" if key == "flexibility" else key): raw for key, raw in value.items()}
    record = _record(value, "options", names)
    checked = {}
    for name, raw in record.items():
        if name == "quality":
            checked[name] = None if raw is None else _quality(raw)
            continue
        low, high = OPTION_RANGES[name]
        integer = isinstance(low, int)
        if raw is None and name != "steps":
            checked[name] = None
        else:
            checked[name] = _number(raw, f"options.{name}", low, high, integer)
    if checked.get("resolution") == 0:
        checked["resolution"] = None
    return EditOptions(**checked)


def _face_setup(value, reach: tuple[float, float]) -> FaceSetup:
    """The face task's set-up (version 4 on); the faces themselves are found again."""
    where = "face_setup"
    record = _record(value, where, {f.name for f in fields(FaceSetup)})
    groups = _get(record, "groups", f"{where}.")
    if not isinstance(groups, list) or not all(isinstance(g, str) and g in GROUPS for g in groups):
        raise _Invalid(f"{where}.groups must be a list of face groups ({', '.join(GROUPS)})")
    sliders = _record(
        _get(record, "sliders", f"{where}."), f"{where}.sliders", set(Sliders().as_dict())
    )
    moved = _get(record, "dragged", f"{where}.")
    if not isinstance(moved, list) or len(moved) > POINTS:
        raise _Invalid(f"{where}.dragged must be a list of at most {POINTS} [point, dx, dy]")
    dragged = {}
    for number, drag in enumerate(moved):
        at = f"{where}.dragged[{number}]"
        if not isinstance(drag, list) or len(drag) != 3:
            raise _Invalid(f"{at} must be [point, dx, dy]")
        index = int(_number(drag[0], f"{at}[0]", 0, POINTS - 1, integer=True))
        dx, dy = _read_point(drag[1:], at, reach)
        dragged[index] = (index, dx, dy)
    chosen = _number(_get(record, "chosen", f"{where}."), f"{where}.chosen", 0, MAX_FACES, True)
    values = {
        k: float(_number(v, f"{where}.sliders.{k}", *SLIDER_RANGE)) for k, v in sliders.items()
    }
    return FaceSetup(
        chosen=int(chosen),
        groups=tuple(g for g in GROUPS if g in groups),
        sliders=Sliders(**values),
        reference=_flag(_get(record, "reference", f"{where}."), f"{where}.reference"),
        dragged=tuple(dragged.values()),
    )


def _image(archive: zipfile.ZipFile, path: Path, name: str) -> SourceImage:
    data = _member(archive, name, MAX_IMAGE_BYTES)
    with open_image(f"{path.name}:{name}", data) as picture:
        return SourceImage.from_pil(picture, name=name)


def _same_size(image: SourceImage, original: SourceImage, name: str) -> SourceImage:
    if image.size != original.size:
        raise _Invalid(
            f"{name} is {image.width}x{image.height} but the original is "
            f"{original.width}x{original.height}"
        )
    return image


def _mask(archive: zipfile.ZipFile, path: Path, name: str, size: tuple[int, int]) -> np.ndarray:
    member = f"masks/{name}.png"
    data = _member(archive, member, MAX_IMAGE_BYTES)
    with open_image(f"{path.name}:{member}", data) as picture:
        return mask_from_pil(picture, size, what=f"mask {member}")


def _read(archive: zipfile.ZipFile, path: Path) -> SessionState:
    """The session in a project, every field checked before it is used."""
    _check_archive(archive)
    manifest = _manifest(archive)
    _check_pixel_budget(archive)
    if _get(manifest, "format", "") != FORMAT:
        raise InvalidInput(f"{quoted(path)} is not a DiffEditor project.")
    version = _number(_get(manifest, "version", ""), "version", 0, math.inf, integer=True)
    if version > VERSION:
        raise InvalidInput(f"{quoted(path)} was saved by a newer DiffEditor.")
    task = _get(manifest, "task", "")
    if not isinstance(task, str) or task not in {t.value for t in Task}:
        raise _Invalid(f"task must be one of {', '.join(t.value for t in Task)}")
    original = _image(archive, path, "original.png")
    current = _same_size(_image(archive, path, "current.png"), original, "current.png")
    reach = (REACH * original.width, REACH * original.height)

    box = _record(_get(manifest, "box", ""), "box", {"dx", "dy", "scale"})
    paste = _record(_get(manifest, "paste", ""), "paste", {"at", "scale"})
    pairs = _get(manifest, "pairs", "")
    if not isinstance(pairs, list) or len(pairs) > MAX_PAIRS:
        raise _Invalid(f"pairs must be a list of at most {MAX_PAIRS} pairs")
    drag_pairs = []
    for number, pair in enumerate(pairs):
        where = f"pairs[{number}]"
        pair = _record(pair, where, {"handle", "target"})
        target = _get(pair, "target", f"{where}.")
        drag_pairs.append(
            DragPair(
                _read_point(_get(pair, "handle", f"{where}."), f"{where}.handle", reach),
                None if target is None else _read_point(target, f"{where}.target", reach),
            )
        )
    masks = _get(manifest, "masks", "")
    names = {m.value for m in MaskName}
    if not isinstance(masks, list) or not all(isinstance(m, str) and m in names for m in masks):
        raise _Invalid(f"masks must be a list of mask names ({', '.join(sorted(names))})")
    kept = _number(_get(manifest, "kept", ""), "kept", 0, MAX_KEPT, integer=True)
    has_reference = _flag(_get(manifest, "has_reference", ""), "has_reference")
    at = paste.get("at")
    reference = _image(archive, path, "reference.png") if has_reference else None
    if MaskName.REFERENCE.value in masks and reference is None:
        raise _Invalid("it has a reference mask but no reference image")

    def mask_size(name: str) -> tuple[int, int]:
        return reference.size if name == MaskName.REFERENCE.value else original.size

    return SessionState(
        original=original,
        current=current,
        masks={MaskName(name): _mask(archive, path, name, mask_size(name)) for name in masks},
        pairs=drag_pairs,
        face_setup=_face_setup(_get(manifest, "face_setup", ""), reach)
        if version >= 4
        else FaceSetup(),
        box=MoveBox(
            dx=float(_number(_get(box, "dx", "box."), "box.dx", -reach[0], reach[0])),
            dy=float(_number(_get(box, "dy", "box."), "box.dy", -reach[1], reach[1])),
            scale=float(_number(_get(box, "scale", "box."), "box.scale", MIN_SCALE, MAX_SCALE)),
        ),
        paste=PasteLayer(
            None if at is None else _read_point(at, "paste.at", reach),
            float(_number(_get(paste, "scale", "paste."), "paste.scale", MIN_SCALE, MAX_SCALE)),
        ),
        reference=reference,
        task=Task(task),
        prompts=_prompts(manifest, Task(task)),
        reference_prompt=_text(_get(manifest, "reference_prompt", ""), "reference_prompt"),
        seed=int(_number(_get(manifest, "seed", ""), "seed", *SEED_RANGE, integer=True)),
        options=_options(_get(manifest, "options", ""), int(version)),
        kept=[
            _same_size(_image(archive, path, f"kept/{n:03d}.png"), original, f"kept/{n:03d}.png")
            for n in range(int(kept))
        ],
    )


def _check_regular_file(path: Path) -> None:
    """Only a regular file is read: a FIFO would block for ever and a device (or a link to
    /dev/zero) would never end."""
    try:
        status = os.stat(path)
    except OSError as error:
        raise InvalidInput(f"{quoted(path)} cannot be opened ({first_line(error)}).") from None
    if not stat.S_ISREG(status.st_mode):
        raise InvalidInput(f"{quoted(path)} is not a file, so it is no DiffEditor project.")
    if status.st_size > MAX_PROJECT_BYTES:
        raise InvalidInput(
            f"{quoted(path)} is {status.st_size:,} bytes, more than a project may be "
            f"({MAX_PROJECT_BYTES:,})."
        )


def project_origin(path: Path) -> Path | None:
    """The file a saved session came from, when its writer named one (an autosave does);
    None for a project without it or one that cannot be read."""
    try:
        _check_regular_file(path)
        with zipfile.ZipFile(path) as archive:
            origin = _manifest(archive).get("origin")
    except (OSError, ValueError, zipfile.BadZipFile, _Invalid, InvalidInput):
        return None
    if not isinstance(origin, str) or not 0 < len(origin) <= MAX_TEXT_CHARS:
        return None
    return Path(origin)


def load_project(path: Path) -> SessionState:
    """Read a project file; a damaged, foreign or crafted file is one sentence."""
    path = Path(path)
    _check_regular_file(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return _read(archive, path)
    except InvalidInput:
        raise
    except _Invalid as problem:
        raise InvalidInput(
            f"{quoted(path)} is not a valid DiffEditor project: {problem}."
        ) from None
    except (
        OSError,
        EOFError,
        ValueError,
        RuntimeError,  # an encrypted member
        NotImplementedError,  # a compression method zipfile lacks
        zipfile.BadZipFile,
        zlib.error,
    ) as error:
        raise InvalidInput(
            f"{quoted(path)} is not a readable DiffEditor project ({first_line(error)})."
        ) from None
