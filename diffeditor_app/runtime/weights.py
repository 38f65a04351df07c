"""The weights the app needs, where they are, and downloading them with progress.

Lookups use the Hugging Face cache only (`local_files_only=True`), never the network;
a download runs in its own thread, resumes from partial files, and can be cancelled.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from diffeditor_app.engine.errors import ModelUnavailable
from diffeditor_app.engine.models.hub import ETAG_TIMEOUT_S, HUB_SKIP, bound_hub_requests
from diffeditor_app.engine.models.image_prompt_weights import (
    FOLDER_ENCODER,
    FOLDER_WEIGHTS,
    IMAGE_ENCODER_HUB,
    IMAGE_ENCODER_HUB_FOLDER,
    IMAGE_PROMPT_HUB,
    IMAGE_PROMPT_HUB_FILE,
)
from diffeditor_app.engine.models.loading import HUB_PATTERNS, locate
from diffeditor_app.engine.models.model import SD15_HUB_ID
from diffeditor_app.engine.selection.sam import (
    SAM_APPROX_GB,
    SAM_HUB_ID,
    SAM_HUB_PATTERNS,
    find_sam,
)


@dataclass(frozen=True)
class WeightSource:
    """One download the app may need, and the preference that can point elsewhere."""

    title: str
    repo: str
    patterns: tuple[str, ...]
    skip: tuple[str, ...]
    approx_gb: float  # what the download costs, roughly, for the dialog
    setting: str  # the SettingsStore key holding a local path or hub id instead


REQUIRED = (
    WeightSource(
        "Stable Diffusion 1.5",
        SD15_HUB_ID,
        tuple(HUB_PATTERNS),
        tuple(HUB_SKIP),
        4.3,
        "model_source",
    ),
    WeightSource(
        "CLIP image encoder (ViT-H/14)",
        IMAGE_ENCODER_HUB,
        (f"{IMAGE_ENCODER_HUB_FOLDER}/*",),
        ("*.bin",),
        2.5,
        "image_encoder",
    ),
    WeightSource(
        "DiffEditor image prompt",
        IMAGE_PROMPT_HUB,
        (IMAGE_PROMPT_HUB_FILE,),
        (),
        0.2,
        "image_prompt",
    ),
)


OPTIONAL = (  # the app works without these; the tools that need them say so
    WeightSource(
        "Segment Anything (optional, for selecting)",
        SAM_HUB_ID,
        tuple(SAM_HUB_PATTERNS),
        (),
        SAM_APPROX_GB,
        "sam_model",
    ),
)


@dataclass(frozen=True)
class WeightStatus:
    source: WeightSource
    state: str  # "local" (a path in the settings), "model" (the model folder's), "cached"
    # or "missing"
    path: Path | None


def find_cached(source: WeightSource) -> Path | None:
    """The cached snapshot folder when every wanted file is there; never the network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(
            snapshot_download(
                source.repo, allow_patterns=list(source.patterns), local_files_only=True
            )
        )
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    wanted = [p for p in source.patterns if "*" not in p]
    if any(not (folder / name).is_file() for name in wanted):
        return None
    return folder


def in_model_folder(source: WeightSource, model_source: str | None) -> Path | None:
    """The model folder's own image encoder (`image_encoder/`) or image-prompt weights
    (`image_prompt/...`), which the editor uses when no other is chosen."""
    if source.setting not in ("image_encoder", "image_prompt") or not model_source:
        return None
    try:
        kind, folder = locate(model_source)
    except ModelUnavailable:
        return None
    if kind != "folder":
        return None
    if source.setting == "image_encoder":
        return folder / FOLDER_ENCODER if (folder / FOLDER_ENCODER).is_dir() else None
    return next((folder / p for p in FOLDER_WEIGHTS if (folder / p).is_file()), None)


def status(settings) -> list[WeightStatus]:
    """For each required source: a usable local path from the settings, the model folder's
    own copy, the cache, or nothing."""
    found = []
    for source in REQUIRED:
        value = settings.get(source.setting)
        if value and Path(value).expanduser().exists():
            found.append(WeightStatus(source, "local", Path(value).expanduser()))
            continue
        own = in_model_folder(source, settings.get("model_source"))
        if own is not None:
            found.append(WeightStatus(source, "model", own))
            continue
        cached = find_cached(source)
        found.append(WeightStatus(source, "cached" if cached else "missing", cached))
    return found


def optional_status(settings) -> list[WeightStatus]:
    """For each optional source: its usable folder chosen in the settings ("local"), in the
    cache ("cached"), or nothing ("missing"); never the network."""
    found = []
    for source in OPTIONAL:
        value = settings.get(source.setting) or source.repo
        folder = find_sam(value)
        state = (
            "missing"
            if folder is None
            else "local"
            if Path(value).expanduser().is_dir()
            else "cached"
        )
        found.append(WeightStatus(source, state, folder))
    return found


def sam_source(settings) -> str:
    """The SAM the settings ask for: the chosen folder or repo, else the default repo."""
    return settings.get("sam_model") or SAM_HUB_ID


def hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def offline_instructions(missing: list[WeightSource]) -> str:
    """Exactly what to fetch on a connected machine and where to put it."""
    if not missing:
        return "Everything the editor needs is here."
    lines = [
        "On a machine with internet access, run:",
        "",
        *(
            f"hf download {s.repo} " + " ".join(f"--include '{p}'" for p in s.patterns)
            for s in missing
        ),
        "",
        f"then copy its Hugging Face cache folder into {hub_cache()} on this machine,",
        "or choose the downloaded folders and files here with 'Choose…'.",
    ]
    return "\n".join(lines)


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}


class DownloadCancelled(Exception):
    """Raised from the progress hook to stop a download; partial files stay for resuming."""


class Download(QObject):
    """One source downloaded in a thread; signals reach receivers in their own threads."""

    progress = Signal(int, int)  # done, total, in the hub progress bar's unit (files or bytes)
    finished = Signal(str)  # the snapshot folder
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, source: WeightSource, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="weights-download", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _progress_class(self):
        from tqdm.auto import tqdm

        download = self

        class Progress(tqdm):
            """Forwards progress and stops the download when cancelled."""

            def __init__(self, *args, **kwargs):
                kwargs["disable"] = True  # no console output: the dialog shows progress
                super().__init__(*args, **kwargs)
                self.done = kwargs.get("initial", 0) or 0

            def update(self, n=1):
                if download._stop.is_set():
                    raise DownloadCancelled
                self.done += n or 0
                download.progress.emit(int(self.done), int(self.total or 0))

        return Progress

    def _run(self) -> None:
        from huggingface_hub import snapshot_download

        bound_hub_requests()
        try:
            folder = snapshot_download(
                self.source.repo,
                allow_patterns=list(self.source.patterns),
                ignore_patterns=list(self.source.skip) or None,
                etag_timeout=ETAG_TIMEOUT_S,
                tqdm_class=self._progress_class(),
            )
        except DownloadCancelled:
            self.cancelled.emit()
            return
        except Exception as error:  # network errors come in many types; all mean the same
            self.failed.emit(
                f"Could not download {self.source.title} ({type(error).__name__}): the hub is "
                "unreachable or refused; try again later or choose local files."
            )
            return
        if self._stop.is_set():
            self.cancelled.emit()
        else:
            self.finished.emit(str(folder))


def apply_cache_folder(folder: str | None) -> None:
    """Point the Hugging Face cache at the preference's folder (None: its default). The
    library reads its cache path once at import, so the constant is set as well."""
    from huggingface_hub import constants

    if folder:
        path = str(Path(folder).expanduser())
        os.environ["HF_HUB_CACHE"] = path
        constants.HF_HUB_CACHE = path
