"""Preferences: one declarative schema and a store that loads, checks, saves and signals them.

Every preference is declared once in `SCHEMA` (key, default, label, help, kind, choices, range,
group); the preferences dialog is built from those declarations and nothing else repeats them.
`SettingsStore` is an injected QObject (never a module-level singleton): the app builds one on
`default_path()`, tests build one on a temporary file. It emits `changed(key)` after each real
change and saves at once, atomically.

Loading never fails: a missing file gives the defaults; a file that is not a JSON object is
renamed to `settings.json.bad` and the defaults are used; a value of the wrong type or out of
range falls back to its default; unknown keys are dropped (and leave the file at the next save).
Each of these leaves a one-sentence note in `problems` for the UI to show once.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import QObject, Signal

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.outputs import write_atomically
from diffeditor_app.engine.limits import RESOLUTION_LIMITS
from diffeditor_app.engine.models.memory import VramPreset
from diffeditor_app.engine.models.model import DTYPES, SD15_HUB_ID, ModelSpec
from diffeditor_app.engine.selection.sam import SAM_HUB_ID
from diffeditor_app.engine.selection.wand import DEFAULT_TOLERANCE, MAX_TOLERANCE
from diffeditor_app.engine.settings import Quality
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.server.client import ServerAddress

log = logging.getLogger(__name__)

APP_NAME = "DiffEditor"
FILE_NAME = "settings.json"
BAD_SUFFIX = ".bad"  # an unreadable settings file is kept beside the new one under this suffix
RECENT_LIMIT = 10  # entries kept in the recent-files list
BRUSH_SHARE = 0.05  # a new image size class's brush: this share of the shorter side
BRUSH_LIMITS = (1, 500)  # brush diameters in image pixels
BRUSH_CLASSES = 16  # size classes remembered (64 px .. 2**21 px would be 16)
GROUPS = ("model", "performance", "editing", "interface")  # the dialog's pages, in order
RUN_LOCAL, RUN_SERVER = "local", "server"  # where edits run

Kind = type  # str, int, float, bool or list (a list of strings)
QUALITY_LABELS = ("full (the paper's method)", "fast (a third of the work)")  # by Quality


def available_devices() -> tuple[str, ...]:
    """auto, every CUDA device torch finds, and the CPU: what the device list offers."""
    import torch

    gpus = tuple(f"cuda:{i}" for i in range(torch.cuda.device_count()))
    return ("auto", *gpus, "cpu")


@dataclass(frozen=True)
class Setting:
    """One preference: its key, default, dialog text and the values it accepts."""

    key: str
    default: Any
    label: str  # short title for the dialog
    help: str  # one or two sentences for the dialog's tooltip / description
    kind: Kind  # str | int | float | bool | list (of str)
    group: str  # one of GROUPS
    choices: tuple[Any, ...] | None = None  # the only values allowed, in dialog order
    minimum: float | None = None  # inclusive, numbers only
    maximum: float | None = None  # inclusive, numbers only
    optional: bool = False  # None allowed (means "automatic" / "the model's own")
    max_items: int | None = None  # lists only: longer lists keep their first items
    in_dialog: bool = True  # False: remembered state (recent files, window), not a preference
    offered: Callable[[], tuple[str, ...]] | None = None  # the dialog's list, found at run
    # time (the devices torch sees); unlike choices, another stored value stays valid
    choice_labels: tuple[str, ...] | None = None  # what the dialog shows for each choice
    secret: bool = False  # the dialog hides the typed text (a token)
    empty: str = ""  # optional ones: what happens when the field is left empty (placeholder)

    def validate(self, value: Any) -> Any:
        """The value as stored, or ValueError naming the key and what it accepts."""
        if value is None:
            if self.optional:
                return None
            raise ValueError(f"{self.key} must be {self._allowed()}; got nothing (None).")
        checked = self._check_kind(value)
        if self.choices is not None and checked not in self.choices:
            raise ValueError(f"{self.key} must be {self._allowed()}; got {value!r}.")
        if self.kind in (int, float):
            too_low = self.minimum is not None and checked < self.minimum
            too_high = self.maximum is not None and checked > self.maximum
            if too_low or too_high:
                raise ValueError(f"{self.key} must be {self._allowed()}; got {value!r}.")
        return checked

    def _check_kind(self, value: Any) -> Any:
        wrong = ValueError(f"{self.key} must be {self._allowed()}; got {value!r}.")
        if self.kind is bool:
            if not isinstance(value, bool):
                raise wrong
            return value
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise wrong
            return int(value)
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise wrong
            if not math.isfinite(value):
                raise wrong
            return float(value)
        if self.kind is str:
            if not isinstance(value, str):
                raise wrong
            text = value.strip()
            if not text:
                if self.optional:
                    return None  # an emptied field means "automatic"
                raise ValueError(f"{self.key} must not be empty.")
            return text
        if self.kind is list:
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise wrong
            items = list(value)
            return items[: self.max_items] if self.max_items is not None else items
        raise TypeError(f"{self.key} has an unsupported kind {self.kind!r}.")

    def _allowed(self) -> str:
        if self.choices is not None:
            text = "one of " + ", ".join(str(c) for c in self.choices)
        elif self.kind in (int, float):
            what = "a whole number" if self.kind is int else "a number"
            if self.minimum is not None and self.maximum is not None:
                text = f"{what} between {self.minimum:g} and {self.maximum:g}"
            elif self.minimum is not None:
                text = f"{what} of at least {self.minimum:g}"
            elif self.maximum is not None:
                text = f"{what} of at most {self.maximum:g}"
            else:
                text = what
        else:
            text = {bool: "true or false", str: "a text", list: "a list of texts"}[self.kind]
        return text + (" (or empty for automatic)" if self.optional else "")


SCHEMA: tuple[Setting, ...] = (
    # -- model -------------------------------------------------------------------------------
    Setting(
        "model_source",
        SD15_HUB_ID,
        "Model",
        "A Hugging Face repo id, a local diffusers folder, or a single .safetensors / .ckpt "
        "checkpoint of a Stable Diffusion 1.x model.",
        str,
        "model",
    ),
    Setting(
        "image_prompt",
        None,
        "Image-prompt weights",
        "Weights of the image-prompt encoder used by Paste and Replace appearance: a file, a "
        "folder or a hub repo. Empty: the model's own or the cached default; 'none': off.",
        str,
        "model",
        optional=True,
        empty="the model's own or the default",
    ),
    Setting(
        "image_encoder",
        None,
        "CLIP image encoder",
        "The CLIP vision model read by the image-prompt encoder: a folder or a hub repo. "
        "Empty: the model's own or h94/IP-Adapter.",
        str,
        "model",
        optional=True,
        empty="the model's own or h94/IP-Adapter",
    ),
    Setting(
        "sam_model",
        None,
        "Segment Anything model",
        "Weights of the Segment Anything selection tool (optional): a folder or a hub repo "
        f"of a SAM that transformers loads. Empty: {SAM_HUB_ID} from the cache.",
        str,
        "model",
        optional=True,
        empty=f"{SAM_HUB_ID}",
    ),
    Setting(
        "allow_download",
        True,
        "Allow downloads",
        "Download missing models and weights from the Hugging Face hub. Off: use only what is "
        "already cached or on disk (HF_HUB_OFFLINE=1 also turns this off).",
        bool,
        "model",
    ),
    Setting(
        "cache_folder",
        None,
        "Download cache folder",
        "Where downloaded models are kept. Empty: the Hugging Face default "
        "(~/.cache/huggingface, or HF_HOME).",
        str,
        "model",
        optional=True,
        empty="Hugging Face's (HF_HOME)",
    ),
    # -- performance -------------------------------------------------------------------------
    Setting(
        "run_on",
        RUN_LOCAL,
        "Run edits on",
        "This computer, or a `diffeditor serve` server (a GPU machine) at the URL below. On a "
        "server, the device and memory settings below are the server's own.",
        str,
        "performance",
        choices=(RUN_LOCAL, RUN_SERVER),
        choice_labels=("this computer", "a server"),
    ),
    Setting(
        "server_url",
        None,
        "Server URL",
        "The address `diffeditor serve` printed, such as http://127.0.0.1:8765 (https:// "
        "behind a TLS proxy). Empty: edits run only on this computer.",
        str,
        "performance",
        optional=True,
        empty="edits run on this computer",
    ),
    Setting(
        "server_token",
        None,
        "Server token",
        "The server's token: its DIFFEDITOR_TOKEN, or the contents of its token file.",
        str,
        "performance",
        optional=True,
        secret=True,
        empty="no token is sent",
    ),
    Setting(
        "device",
        "auto",
        "Device",
        "Where the model runs: auto (the CUDA GPU when there is one), a CUDA GPU, or the CPU.",
        str,
        "performance",
        offered=available_devices,
    ),
    Setting(
        "precision",
        "auto",
        "Precision",
        "Number format of the model: auto (fp16 on a GPU, fp32 on the CPU), fp16, bf16 or fp32.",
        str,
        "performance",
        choices=DTYPES,
    ),
    Setting(
        "vram_preset",
        VramPreset.AUTO.value,
        "GPU memory",
        "How much speed to trade for GPU memory: auto (from the card's free memory), high "
        "(16 GB and more), medium (10-12 GB), low (6-8 GB; 512 px by default) or cpu-offload "
        "(slowest, for 4 GB cards). A change reloads the model at the next edit.",
        str,
        "performance",
        choices=tuple(preset.value for preset in VramPreset),
    ),
    Setting(
        "compile_unet",
        False,
        "Compile the UNet",
        "torch.compile the UNet: the first edit takes minutes longer, later ones may be faster "
        "on some GPUs. Off unless the benchmark shows a gain on your card.",
        bool,
        "performance",
    ),
    Setting(
        "default_resolution",
        None,
        "Working resolution",
        "The long side, in pixels, that edits run at. Empty: the model's own default "
        "(768 for Stable Diffusion 1.5); the model may narrow the range.",
        int,
        "performance",
        minimum=RESOLUTION_LIMITS[0],
        maximum=RESOLUTION_LIMITS[1],
        optional=True,
        empty="the model's own",
    ),
    Setting(
        "edit_quality",
        Quality.FULL.value,
        "Edit quality",
        "Full runs the paper's method; fast does about a third of the UNet work (fewer "
        "steps, the same method), about three times faster. The Edit panel can change it "
        "for one image; a project remembers its own choice.",
        str,
        "performance",
        choices=tuple(quality.value for quality in Quality),
        choice_labels=QUALITY_LABELS,
    ),
    # -- editing -----------------------------------------------------------------------------
    Setting(
        "brush_sizes",
        [],
        "Brush sizes",
        "The brush size last used for each image size class, as 'SIDE:SIZE' (the shorter "
        "side rounded to a power of two); a class not listed starts at "
        f"{BRUSH_SHARE:.0%} of the image's shorter side.",
        list,
        "editing",
        max_items=BRUSH_CLASSES,
        in_dialog=False,
    ),
    Setting(
        "brush_hardness",
        0.8,
        "Brush hardness",
        "1 paints a hard edge; lower values feather the brush's edge.",
        float,
        "editing",
        minimum=0.0,
        maximum=1.0,
    ),
    Setting(
        "wand_tolerance",
        DEFAULT_TOLERANCE,
        "Magic wand tolerance",
        "How far (0..255, per colour channel) a pixel's colour may be from the clicked one "
        "and still be selected.",
        int,
        "editing",
        minimum=0,
        maximum=MAX_TOLERANCE,
    ),
    Setting(
        "wand_contiguous",
        True,
        "Magic wand: contiguous",
        "On: only the region connected to the click. Off: every similar pixel in the image.",
        bool,
        "editing",
    ),
    Setting(
        "refine_radius",
        4,
        "Refine radius",
        "How many pixels Select > Grow, Shrink and Feather change the mask by.",
        int,
        "editing",
        minimum=1,
        maximum=500,
    ),
    Setting(
        "last_task",
        Task.MOVE.value,
        "Task at start",
        "The task the window opens with; remembers the last one used.",
        str,
        "editing",
        choices=tuple(task.value for task in Task),
        in_dialog=False,
    ),
    # -- interface ---------------------------------------------------------------------------
    Setting(
        "mask_opacity",
        0.45,
        "Mask overlay opacity",
        "How strongly painted masks tint the canvas: 0 invisible, 1 opaque.",
        float,
        "interface",
        minimum=0.0,
        maximum=1.0,
    ),
    Setting(
        "live_previews",
        True,
        "Live previews",
        "Show each step's preview on the canvas while an edit runs; off saves a little time "
        "per step.",
        bool,
        "interface",
    ),
    Setting(
        "recent_files",
        [],
        "Recent files",
        f"Images and projects opened lately, newest first (at most {RECENT_LIMIT}).",
        list,
        "interface",
        max_items=RECENT_LIMIT,
        in_dialog=False,
    ),
    Setting(
        "window_geometry",
        None,
        "Window geometry",
        "The main window's size and place (Qt saveGeometry, base64).",
        str,
        "interface",
        optional=True,
        in_dialog=False,
    ),
)

SETTINGS: dict[str, Setting] = {setting.key: setting for setting in SCHEMA}
RETIRED = {"brush_size"}  # one size for every image: now per size class (brush_sizes)


def size_class(width: int, height: int) -> int:
    """The image's shorter side rounded to a power of two: 64, 512, 1024, ..."""
    return 1 << max(round(math.log2(max(min(width, height), 1))), 0)


def default_brush(width: int, height: int) -> int:
    """A few per cent of the shorter side: 3 px on a 64 px toy scene, 51 px at 1024."""
    return int(min(max(round(BRUSH_SHARE * min(width, height)), BRUSH_LIMITS[0]), BRUSH_LIMITS[1]))


def brush_for(entries: list[str], width: int, height: int) -> int:
    """The size remembered for the image's size class in `entries`, else the default."""
    for entry in entries:
        side, _, size = entry.partition(":")
        if side == str(size_class(width, height)) and size.isdigit():
            return int(min(max(int(size), BRUSH_LIMITS[0]), BRUSH_LIMITS[1]))
    return default_brush(width, height)


def remember_brush(entries: list[str], width: int, height: int, size: int) -> list[str]:
    """`entries` with the image's size class set to `size`, most recent first."""
    side = str(size_class(width, height))
    return [f"{side}:{size}", *(e for e in entries if e.partition(":")[0] != side)]


def setting(key: str) -> Setting:
    """The declaration of `key`; KeyError naming it when there is none."""
    try:
        return SETTINGS[key]
    except KeyError:
        raise KeyError(f"Unknown setting '{key}'.") from None


def settings_in(group: str) -> tuple[Setting, ...]:
    """The declarations shown on one page of the dialog, in schema order."""
    if group not in GROUPS:
        raise KeyError(f"Unknown settings group '{group}'; use one of {', '.join(GROUPS)}.")
    return tuple(s for s in SCHEMA if s.group == group and s.in_dialog)


def default_path() -> Path:
    """Where the app keeps its settings: the platform's user config folder."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / FILE_NAME


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


class SettingsStore(QObject):
    """The user's preferences, read from and saved to one JSON file. GUI thread only."""

    changed = Signal(str)  # the key whose value changed

    def __init__(self, path: str | os.PathLike[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.problems: list[str] = []  # one sentence each, about what loading had to fix
        self._values: dict[str, Any] = {s.key: _copy(s.default) for s in SCHEMA}
        self._load()

    # -- reading -----------------------------------------------------------------------------
    def get(self, key: str) -> Any:
        return _copy(self._values[setting(key).key])

    def values(self) -> dict[str, Any]:
        return {key: _copy(value) for key, value in self._values.items()}

    def model_spec(self) -> ModelSpec:
        """The engine's model spec as these settings describe it."""
        return ModelSpec(
            source=self._values["model_source"],
            device=self._values["device"],
            dtype=self._values["precision"],
            allow_download=self._values["allow_download"],
            image_prompt=self._values["image_prompt"],
            image_encoder=self._values["image_encoder"],
            vram_preset=self._values["vram_preset"],
            compile_unet=self._values["compile_unet"],
        )

    def server(self) -> ServerAddress | None:
        """Where edits run: None for this computer, else the server's address
        (InvalidInput when the server is chosen without a URL or token)."""
        if self._values["run_on"] != RUN_SERVER:
            return None
        url = self._values["server_url"]
        if not url:
            raise InvalidInput("Set the server's URL in Preferences > Performance.")
        return ServerAddress(url.rstrip("/"), self._values["server_token"] or "")

    # -- changing ----------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        """Validate, save and signal; nothing happens when the value is unchanged.

        ValueError (naming the key) for a bad value, KeyError for an unknown key, OSError when
        the file cannot be written; in all three cases nothing changes.
        """
        self._update({key: setting(key).validate(value)})

    def set_all(self, values: dict[str, Any]) -> None:
        """`set` for several keys in one write: all of them change, or none."""
        self._update({key: setting(key).validate(value) for key, value in values.items()})

    def remember(self, key: str, value: Any) -> None:
        """Keep what the app notes on its own (the last task, the window's place, the recent
        files, a tool's size), not what the user chose in a dialog: when the file cannot be
        written the value is logged and dropped, never raised into the task switch, the
        slider or the quit that noted it."""
        try:
            self.set(key, value)
        except OSError as error:
            log.warning("Could not remember %s: %s", key, error)

    def reset(self, key: str) -> None:
        self.set(key, setting(key).default)

    def reset_all(self) -> None:
        self._update({s.key: _copy(s.default) for s in SCHEMA})

    def add_recent(self, path: str | os.PathLike[str]) -> None:
        """Put `path` first in the recent files, once, keeping at most RECENT_LIMIT."""
        entry = os.path.abspath(os.fspath(path))
        recent = [p for p in self._values["recent_files"] if p != entry]
        self.remember("recent_files", [entry, *recent][:RECENT_LIMIT])

    def remove_recent(self, path: str | os.PathLike[str]) -> None:
        """Forget one recent file (say, one that no longer exists)."""
        entry = os.path.abspath(os.fspath(path))
        self.remember("recent_files", [p for p in self._values["recent_files"] if p != entry])

    def _update(self, new: dict[str, Any]) -> None:
        keys = [key for key, value in new.items() if self._values[key] != value]
        if not keys:
            return
        values = {**self._values, **{key: new[key] for key in keys}}
        self._save(values)  # first: a failed save changes nothing and signals nothing
        self._values = values
        for key in keys:
            self.changed.emit(key)

    # -- the file ----------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as error:
            self._set_aside(f"could not be read ({error.strerror or error})")
            return
        try:
            data = json.loads(raw.decode("utf-8-sig"))  # a BOM from Notepad is fine
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
            self._set_aside(f"is not valid JSON ({error})")
            return
        if not isinstance(data, dict):
            self._set_aside(f"holds a JSON {type(data).__name__}, not an object")
            return
        self._take(data.items())

    def _take(self, items: Iterable[tuple[str, Any]]) -> None:
        unknown = []
        for key, value in items:
            if key in RETIRED:
                continue
            if key not in SETTINGS:
                unknown.append(key)
                continue
            try:
                self._values[key] = SETTINGS[key].validate(value)
            except ValueError as error:
                self.problems.append(
                    f"The saved setting {error.args[0].rstrip('.')}, so the default "
                    f"{SETTINGS[key].default!r} is used."
                )
        if unknown:
            names = ", ".join(sorted(unknown))
            self.problems.append(
                f"{self.path} has settings this version does not know ({names}); they were "
                "ignored and leave the file at the next save."
            )

    def _set_aside(self, why: str) -> None:
        bad = self.path.with_name(self.path.name + BAD_SUFFIX)
        try:
            os.replace(self.path, bad)
        except OSError as error:
            self.problems.append(
                f"{self.path} {why} and could not be renamed ({error.strerror or error}); "
                "the defaults are used and the next change will overwrite it."
            )
            return
        self.problems.append(f"{self.path} {why}; it was kept as {bad} and the defaults are used.")

    def _save(self, values: dict[str, Any]) -> None:
        """Atomically: a crash while saving leaves the previous settings whole. A new file is
        the user's alone (0600): it can hold the server token."""
        text = json.dumps(values, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            write_atomically(
                self.path, lambda stream: stream.write(text.encode("utf-8")), new_mode=0o600
            )
        except OSError as error:
            raise OSError(
                f"Could not save the settings to {self.path} ({error.strerror or error})."
            ) from error
