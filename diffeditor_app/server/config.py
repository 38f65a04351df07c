"""What `diffeditor serve` was asked for (Ray-free, so the CLI builds it without Ray)."""

from __future__ import annotations

from dataclasses import dataclass, field

from diffeditor_app.engine.models.model import SD15_HUB_ID, ModelSpec
from diffeditor_app.server.limits import Limits


@dataclass(frozen=True)
class ServerConfig:
    """What `diffeditor serve` was asked for."""

    host: str = "127.0.0.1"
    port: int = 8765
    model: str = SD15_HUB_ID
    device: str = "auto"  # each replica's; auto: its GPU, else the CPU
    dtype: str = "auto"
    vram: str = "auto"
    replicas: int | None = None  # None: one per GPU of the cluster, else one
    address: str | None = None  # a Ray cluster to join; None: a local Ray instance
    allow_download: bool = True
    limits: Limits = field(default_factory=Limits)

    def spec(self) -> ModelSpec:
        return ModelSpec(
            self.model,
            self.device,
            self.dtype,
            allow_download=self.allow_download,
            vram_preset=self.vram,
        )
