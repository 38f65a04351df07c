"""What names a model, what its family needs, and what loading it gives.

`ModelSpec` is what a user or the settings ask for, `ModelProfile` the architecture-dependent
choices of a model family (ALGORITHM.md §1.2), and `LoadedModel` the components an editor
works with. Loading (loading.py) and the image-prompt weights both build on these.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from diffeditor_app.engine.errors import InvalidInput, ModelUnavailable, first_line, quoted
from diffeditor_app.engine.limits import RESOLUTION_LIMITS
from diffeditor_app.engine.models.memory import PLANS, MemoryPlan, VramPreset
from diffeditor_app.engine.settings import TaskSettings
from diffeditor_app.engine.tasks.registry import DEFAULTS, Task

SD15_HUB_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
PROFILE_FILE = "diffeditor.json"
DTYPES = ("auto", "fp16", "bf16", "fp32")  # auto: fp16 on a GPU, fp32 on the CPU


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and where to run it."""

    source: str = SD15_HUB_ID  # folder, checkpoint file, hub repo id, or a name in models/
    device: str = "auto"  # auto | cuda | cpu (or any torch device string)
    dtype: str = "auto"  # one of DTYPES
    allow_download: bool = False  # may a hub id be downloaded when it is not cached?
    image_prompt: str | None = None  # weights spec; None: the model's own or cached; "none": off
    image_encoder: str | None = None  # CLIP vision spec; None: the model's own or h94/IP-Adapter
    vram_preset: str = "auto"  # auto | high | medium | low | cpu-offload (engine/models/memory.py)
    compile_unet: bool = False  # torch.compile the UNet: slow first edit, maybe faster later


@dataclass(frozen=True)
class ModelProfile:
    """Architecture-dependent choices of a model family (ALGORITHM.md §1.2)."""

    feature_blocks: tuple[int, ...] = (1, 2)  # up_blocks whose outputs feed the energies
    default_resolution: int = 768  # working resolution R
    resolution_range: tuple[int, int] = (384, 1024)
    size_multiple: int = 64  # each working side is a multiple of this
    task_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> ModelProfile:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ModelUnavailable(
                f"{quoted(path)} is not a readable model profile ({first_line(error)})."
            ) from None
        known = {"feature_blocks", "default_resolution", "resolution_range", "size_multiple"}
        unknown = sorted(set(data) - known - {"task_overrides"})
        if unknown:
            raise ModelUnavailable(f"{quoted(path)} has unknown keys: {', '.join(unknown)}.")
        kwargs: dict[str, Any] = {k: data[k] for k in known if k in data}
        if "feature_blocks" in kwargs:
            kwargs["feature_blocks"] = tuple(kwargs["feature_blocks"])
        if "resolution_range" in kwargs:
            kwargs["resolution_range"] = tuple(kwargs["resolution_range"])
            low, high = kwargs["resolution_range"]
            if not RESOLUTION_LIMITS[0] <= low <= high <= RESOLUTION_LIMITS[1]:
                raise ModelUnavailable(
                    f"{quoted(path)} declares the resolutions {low}..{high}; "
                    "a model's range must lie "
                    f"within {RESOLUTION_LIMITS[0]}..{RESOLUTION_LIMITS[1]}."
                )
        overrides = data.get("task_overrides", {})
        for task in overrides:
            Task(task)
        return cls(task_overrides=overrides, **kwargs)

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_blocks": list(self.feature_blocks),
            "default_resolution": self.default_resolution,
            "resolution_range": list(self.resolution_range),
            "size_multiple": self.size_multiple,
            "task_overrides": self.task_overrides,
        }

    def check_resolution(self, resolution: int) -> None:
        low, high = self.resolution_range
        if not low <= resolution <= high:
            raise InvalidInput(
                f"The working resolution must be between {low} and {high} for this model, "
                f"got {resolution}."
            )

    def task_settings(self, task: Task) -> TaskSettings:
        """The task's defaults with this model's overrides applied."""
        return DEFAULTS[task].with_overrides(self.task_overrides.get(task.value, {}))


@dataclass(eq=False)
class LoadedModel:
    """The components one editor works with; only the worker thread touches them."""

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    profile: ModelProfile
    device: torch.device
    dtype: torch.dtype
    name: str  # what the user asked for, for messages and the status bar
    identity: str  # changes whenever the weights change: part of the prepare cache key
    notes: list[str] = field(default_factory=list)  # things worth telling the user once
    image_prompt: Any = None  # ImagePrompt when image-prompt weights are loaded
    memory: MemoryPlan = PLANS[VramPreset.HIGH]  # where modules live, what is traded for memory

    @property
    def latent_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def latent_scale(self) -> float:
        return float(self.vae.config.scaling_factor)
