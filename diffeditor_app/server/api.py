"""The server's wire format, version 1: requests, stream events and results as JSON.

A request is the engine's own request dataclass written field by field, with every image
and mask as a base64 PNG; the server rebuilds the same dataclass and validates it with the
same sentences as the CLI. Nothing is pickled in either direction. A running edit answers
with newline-delimited JSON events (EVENT_TYPES), ending with exactly one of
`finished`, `failed` or `cancelled`.

This module needs neither Ray nor Qt: the desktop app, the CLI and the server share it.
"""

from __future__ import annotations

import base64
import binascii
import enum
import io
import json
import math
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from PIL import Image

from diffeditor_app.engine.editor import EditResult
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.images import SourceImage, mask_from_pil, open_image
from diffeditor_app.engine.models.model import ModelProfile
from diffeditor_app.engine.requests import EditRequest, Kind, Point, ReferenceEdit, WireField
from diffeditor_app.engine.tasks.registry import Task, request_for, spec_of
from diffeditor_app.server.limits import MAX_DRAG_PAIRS, MAX_TEXT_CHARS

API_VERSION = 1
INFO_PATH = "/v1/info"
EDITS_PATH = "/v1/edits"  # POST: submit and follow; POST {EDITS_PATH}/{id}/cancel: cancel
CLIENT_HEADER = "X-DiffEditor-Client"  # a client's own id: the queue limit counts per id
NDJSON = "application/x-ndjson"
PREVIEW_MAX_SIDE = 256  # previews travel as small PNGs; 0 asks for the decoded size
PREVIEW_MODES = ("all", "throttled", "none")  # every step (CLI), the GUI's budget, none
THROTTLED_SHARE = 0.25  # a throttled client's preview share when it names none
MAX_NAME_CHARS = 120  # of a file name quoted in messages
EVENT_TYPES = (
    "accepted",  # id: the job id to cancel with
    "queued",  # waiting for a replica
    "started",  # a replica took it: replica, pid
    "preparing",  # done, total: inversion steps
    "step",  # step (0-based), total, preview (base64 PNG or null)
    "heartbeat",  # nothing new; sent while waiting so clients notice a dead line
    "finished",  # result: see encode_result
    "failed",  # message: one sentence
    "cancelled",
)
TERMINAL = frozenset({"finished", "failed", "cancelled"})


class BadRequest(InvalidInput):
    """The request is not version-1 JSON of an edit (HTTP 400)."""


class TooLarge(InvalidInput):
    """An upload or image past the server's limits (HTTP 413)."""


def status_for(error: InvalidInput) -> int:
    """The HTTP status of a refused request: 413 too large, 400 malformed, 422 invalid."""
    if isinstance(error, TooLarge):
        return 413
    if isinstance(error, BadRequest):
        return 400
    return 422


@dataclass(frozen=True)
class PreviewOptions:
    """Which step previews a client wants, and how large."""

    mode: str = "throttled"  # one of PREVIEW_MODES
    max_side: int = PREVIEW_MAX_SIDE  # 0: as decoded (the working size)
    share: float = THROTTLED_SHARE  # "throttled": the share of sampling time previews may take

    def budget(self) -> float | None:
        """The engine's preview budget: None decodes every step, 0 none."""
        return {"all": None, "throttled": self.share, "none": 0.0}[self.mode]


# -- plain values -------------------------------------------------------------------------

SHOWN_CHARS = 40  # of a refused value quoted in a sentence


def _shown(value: Any) -> str:
    """A refused value as a sentence quotes it: on one line, cut short."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"'{name}' must be a finite number, got {_shown(value)}.")
    return float(value)


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"'{name}' must be a whole number, got {_shown(value)}.")
    return value


def _optional(convert: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    return lambda value, name: None if value is None else convert(value, name)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be true or false, got {_shown(value)}.")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a text, got {_shown(value)}.")
    if len(value) > MAX_TEXT_CHARS:
        raise TooLarge(
            f"'{name}' has {len(value)} characters; this server takes up to {MAX_TEXT_CHARS}."
        )
    return value


def _pair(value: Any, name: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise BadRequest(f"'{name}' must be two numbers [x, y], got {_shown(value)}.")
    return _number(value[0], name), _number(value[1], name)


def _pairs(value: Any, name: str) -> tuple[tuple[Point, Point], ...]:
    if not isinstance(value, list):
        raise BadRequest(f"'{name}' must be a list of [[hx, hy], [tx, ty]] pairs.")
    if len(value) > MAX_DRAG_PAIRS:  # before any is read: each pair costs the editor time
        raise TooLarge(
            f"'{name}' has {len(value)} pairs; this server takes up to {MAX_DRAG_PAIRS}."
        )
    pairs = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise BadRequest(f"'{name}' must be a list of [[hx, hy], [tx, ty]] pairs.")
        pairs.append((Point(*_pair(pair[0], name)), Point(*_pair(pair[1], name))))
    return tuple(pairs)


def _box(value: Any, name: str) -> tuple[float, float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise BadRequest(f"'{name}' must be four numbers [x0, y0, x1, y1], got {_shown(value)}.")
    x0, y0, x1, y1 = (_number(v, name) for v in value)
    return x0, y0, x1, y1


def overridable(task: Task) -> dict[str, type]:
    """The task settings a request may override, and their type: the numeric ones (an
    enum, a flag or the schedule cannot travel as a number)."""
    defaults = spec_of(task).defaults
    return {
        spec.name: type(getattr(defaults, spec.name))
        for spec in fields(defaults)
        if type(getattr(defaults, spec.name)) in (int, float)
    }


def task_defaults(profile: ModelProfile) -> dict[str, dict[str, float]]:
    """Per task, every setting a request may override and this model's default for it:
    what /v1/info reports, so a client shows the numbers the server's engine will use."""
    return {
        task.value: {name: getattr(profile.task_settings(task), name) for name in overridable(task)}
        for task in Task
    }


def read_task_defaults(info: Any) -> dict[Task, dict[str, float]]:
    """The per-task defaults of a /v1/info answer, or BadRequest when it has none."""
    raw = info.get("task_defaults") if isinstance(info, dict) else None
    if not isinstance(raw, dict) or set(raw) != {task.value for task in Task}:
        raise BadRequest("The server's answer has no defaults for every task.")
    return {
        Task(task): _overrides(values, "task_defaults", Task(task)) for task, values in raw.items()
    }


def _overrides(value: Any, name: str, task: Task) -> dict[str, float]:
    allowed = overridable(task)
    if not isinstance(value, dict):
        raise BadRequest(f"'{name}' must be an object of setting names and numbers.")
    unknown = sorted(str(key)[:MAX_NAME_CHARS] for key in value if key not in allowed)
    if unknown:
        raise BadRequest(
            f"Unknown setting '{unknown[0]}' in '{name}'; a {task.value} edit can override "
            f"{', '.join(sorted(allowed))}."
        )
    convert = {int: _whole, float: _number}
    return {key: convert[allowed[key]](item, f"{name}.{key}") for key, item in value.items()}


Converter = Callable[[Any, str], Any]


def _choice(choices: type[enum.Enum]) -> Converter:
    """The converter of a choice field: one of the str enum's values, as its member."""
    values = [choice.value for choice in choices]

    def convert(value: Any, name: str) -> enum.Enum:
        if isinstance(value, str) and value in values:
            return choices(value)
        allowed = " or ".join(f"'{choice}'" for choice in values)
        raise BadRequest(f"'{name}' must be {allowed}, got {_shown(value)}.")

    return convert


CONVERTERS: dict[Kind, Converter] = {  # how JSON carries each kind of request field
    Kind.TEXT: _text,
    Kind.WHOLE: _whole,
    Kind.OPTIONAL_WHOLE: _optional(_whole),
    Kind.FLAG: _flag,
    Kind.NUMBER: _number,
    Kind.PAIR: _pair,
    Kind.POINT_PAIRS: _pairs,
    Kind.BOX: _optional(_box),  # null: the task's own box
}
PICTURES = (Kind.IMAGE, Kind.MASK)  # these travel under `images`, as base64 PNGs


def value_fields(task: Task) -> dict[str, Converter]:
    """The task's fields that travel as JSON values, from its request dataclass."""
    return {
        f.name: _choice(f.choices) if f.kind is Kind.CHOICE else CONVERTERS[f.kind]
        for f in spec_of(task).fields()
        if f.kind not in PICTURES
    }


def image_fields(task: Task) -> tuple[WireField, ...]:
    """The task's images and masks, each image before the masks of its size."""
    return tuple(f for f in spec_of(task).fields() if f.kind in PICTURES)


ENVELOPE = {"task", "images", "previews", "overrides"}


# -- PNG in base64 --------------------------------------------------------------------------


def png_b64(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # speed over size on a fast line
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def b64_bytes(text: Any, name: str) -> bytes:
    if not isinstance(text, str):
        raise BadRequest(f"'{name}' must be a base64 text.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"'{name}' is not valid base64.") from None


def mask_png(mask: np.ndarray) -> str:
    return png_b64(Image.fromarray(mask.astype(bool)).convert("1"))


def encode_preview(rgb: np.ndarray, max_side: int) -> str:
    """A step preview as a small PNG (a thumbnail of at most `max_side`; 0 keeps its size)."""
    picture = Image.fromarray(rgb, "RGB")
    if max_side > 0 and max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side))
    return png_b64(picture)


def decode_preview(text: str) -> np.ndarray:
    with Image.open(io.BytesIO(b64_bytes(text, "preview"))) as picture:
        return np.asarray(picture.convert("RGB"))


# -- requests -------------------------------------------------------------------------------


def encode_request(request: EditRequest, previews: PreviewOptions | None = None) -> dict[str, Any]:
    """The request as version-1 JSON. Custom `TaskSettings` do not travel (the server uses
    its model's settings plus `overrides`, as the app and the CLI do)."""
    if request.settings is not None:
        raise InvalidInput(
            "An edit with custom task settings cannot run on a server; use overrides instead."
        )
    payload: dict[str, Any] = {"task": request.task.value}
    kinds = {f.name: f.kind for f in spec_of(request.task).fields()}
    for name in value_fields(request.task):
        value = getattr(request, name)
        if kinds[name] is Kind.POINT_PAIRS:
            value = [[list(h), list(t)] for h, t in value]
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, enum.Enum):  # a choice travels as its value
            value = value.value
        payload[name] = value
    images: dict[str, dict[str, str]] = {}
    for spec in image_fields(request.task):
        value = getattr(request, spec.name)
        if value is None:
            continue
        if spec.kind is Kind.IMAGE:
            images[spec.name] = {"name": value.name, "png": png_b64(value.to_pil())}
        else:
            images[spec.name] = {"png": mask_png(value)}  # an app's mask has no file name
    payload["images"] = images
    options = previews or PreviewOptions()
    payload["previews"] = {
        "mode": options.mode,
        "max_side": options.max_side,
        "share": options.share,
    }
    return payload


def _task(payload: Any) -> Task:
    if not isinstance(payload, dict):
        raise BadRequest("The request must be a JSON object.")
    try:
        return Task(payload.get("task"))
    except ValueError:
        choices = ", ".join(task.value for task in Task)
        shown = _shown(payload.get("task"))
        raise BadRequest(f"'task' must be one of {choices}, got {shown}.") from None


def decode_previews(payload: dict[str, Any]) -> PreviewOptions:
    raw = payload.get("previews", {})
    if not isinstance(raw, dict) or set(raw) - {"mode", "max_side", "share"}:
        raise BadRequest("'previews' must be an object with 'mode', 'max_side' and 'share'.")
    mode = raw.get("mode", "throttled")
    if mode not in PREVIEW_MODES:
        raise BadRequest(f"'previews.mode' must be one of {', '.join(PREVIEW_MODES)}.")
    max_side = _whole(raw.get("max_side", PREVIEW_MAX_SIDE), "previews.max_side")
    share = _number(raw.get("share", THROTTLED_SHARE), "previews.share")
    if not 0.0 <= share <= 1.0:
        raise BadRequest(f"'previews.share' must be between 0 and 1, got {share:g}.")
    return PreviewOptions(mode, max(0, max_side), share)


def decode_body(body: bytes, max_pixels: int | None) -> tuple[EditRequest, PreviewOptions]:
    """A request body as the checked engine request and its preview options, or BadRequest
    / TooLarge / InvalidInput with one sentence (and never another exception): everything
    about a request that does not need the model is checked here, once, before it is
    queued; the JSON is parsed once."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: "[" nested past Python's stack
        raise BadRequest("The request body is not JSON.") from None
    edit = decode_request(payload, max_pixels)
    previews = decode_previews(payload)
    return edit.checked(), previews


def check_for_model(edit: EditRequest, profile: ModelProfile) -> None:
    """What needs the server's model: the working resolution and the overridden settings."""
    if edit.resolution is not None:
        profile.check_resolution(edit.resolution)
    profile.task_settings(edit.task).with_overrides(edit.overrides).validate()


def image_key(request: EditRequest) -> str:
    """What routes an edit to the replica holding its prepared state: a hash of the base
    image's (and the reference's) pixels, the image part of the engine's prepare key."""
    digests = [request.image.digest()]
    if isinstance(request, ReferenceEdit):
        digests.append(request.reference.digest())
    return "-".join(d[:20] for d in digests)


def decode_request(payload: Any, max_pixels: int | None) -> EditRequest:
    """The engine request of version-1 JSON, or BadRequest / TooLarge / InvalidInput with
    one sentence. `max_pixels` is checked from each image's header, before decoding."""
    task = _task(payload)
    converters = value_fields(task)
    known = {*ENVELOPE, *converters}
    unknown = sorted(str(key)[:MAX_NAME_CHARS] for key in set(payload) - known)
    if unknown:
        raise BadRequest(f"Unknown field '{unknown[0]}' in a {task.value} request.")
    values = {name: converters[name](payload[name], name) for name in converters if name in payload}
    if "overrides" in payload:
        values["overrides"] = _overrides(payload["overrides"], "overrides", task)
    images = payload.get("images")
    if not isinstance(images, dict):
        raise BadRequest("'images' must be an object of named base64 PNG images.")
    declared = image_fields(task)
    extra = sorted(
        str(key)[:MAX_NAME_CHARS] for key in set(images) - {spec.name for spec in declared}
    )
    if extra:
        raise BadRequest(f"Unknown image '{extra[0]}' in a {task.value} request.")
    decoded: dict[str, Any] = {}
    for spec in declared:  # images before their masks
        name, what, sized_like = spec.name, spec.what, spec.sized_like
        if name not in images:
            if spec.required:
                raise BadRequest(f"The {what} is missing from the request ('images.{name}').")
            continue
        entry = images[name]
        if not isinstance(entry, dict) or set(entry) - {"name", "png"} or "png" not in entry:
            raise BadRequest(f"'images.{name}' must be an object with 'png' (and 'name').")
        file_name = _text(entry.get("name", ""), f"images.{name}.name")
        file_name = file_name.replace("/", "_").replace("\\", "_")[:MAX_NAME_CHARS]
        data = b64_bytes(entry["png"], f"images.{name}.png")
        if spec.kind is Kind.IMAGE:
            decoded[name] = _source_image(data, file_name or name, max_pixels)
        else:
            size = decoded[sized_like].size
            decoded[name] = _mask(data, file_name, size, what)
    return request_for(task, **values, **decoded)


def _source_image(data: bytes, name: str, max_pixels: int | None) -> SourceImage:
    width, height = _header_size(data, name)
    if max_pixels is not None and width * height > max_pixels:
        raise TooLarge(
            f"'{name}' is {width}x{height}; this server edits images of up to "
            f"{max_pixels / 1e6:g} megapixels."
        )
    with open_image(name, data) as picture:
        return SourceImage.from_pil(picture, name=name)


def _mask(data: bytes, name: str, size: tuple[int, int], what: str) -> np.ndarray:
    """A mask, named in messages as the CLI names it: "mask 'm.png'" (or just "mask"). Its
    header must give the image's size (or the size turned by a quarter, which its EXIF
    orientation may undo) before a pixel is decoded: a mask cannot cost more memory than
    its image."""
    shown = f"{what} '{name}'" if name else what
    width, height = _header_size(data, shown)
    if (width, height) not in (size, size[::-1]):
        raise InvalidInput(
            f"The {shown} is {width}x{height} but the image is {size[0]}x{size[1]}; a mask "
            "must have the image's size."
        )
    with open_image(name or what, data) as picture:
        return mask_from_pil(picture, size, what=shown)


def _header_size(data: bytes, name: str) -> tuple[int, int]:
    """An image's size from its header, before any pixel is decoded. A header past Pillow's
    decompression-bomb limit is too large (413); an unreadable one is left to `open_image`,
    which gives the CLI's sentence."""
    try:
        with warnings.catch_warnings():  # the limit below says it in a sentence
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as picture:
                return picture.size
    except Image.DecompressionBombError:
        raise TooLarge(
            f"'{name}' declares more than {Image.MAX_IMAGE_PIXELS * 2 / 1e6:.0f} megapixels; "
            "this server does not decode it."
        ) from None
    except (OSError, SyntaxError, ValueError, TypeError, struct.error, EOFError):
        with open_image(name, data):
            pass
        raise BadRequest(f"'{name}' is not an image this server can read.") from None


# -- results --------------------------------------------------------------------------------

RESULT_FIELDS = tuple(f.name for f in fields(EditResult) if f.name != "image")


def encode_result(result: EditResult) -> dict[str, Any]:
    data = {name: getattr(result, name) for name in RESULT_FIELDS}
    data["working_size"] = list(result.working_size)
    data["image"] = png_b64(result.image)
    return data


def decode_result(data: dict[str, Any]) -> EditResult:
    """An EditResult from the server's `finished` event (the image decoded losslessly)."""
    with Image.open(io.BytesIO(b64_bytes(data["image"], "result image"))) as picture:
        picture.load()
        image = picture.copy()
    values = {name: data[name] for name in RESULT_FIELDS}
    values["working_size"] = tuple(values["working_size"])
    return EditResult(image=image, **values)
