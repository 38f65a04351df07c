"""What `diffeditor serve` was asked for, and the checks and environment it needs before Ray
starts (Ray-free, so the CLI runs them before Ray is imported)."""

from __future__ import annotations

import json
import secrets
import socket
from dataclasses import asdict, dataclass, field

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.models.model import SD15_HUB_ID, ModelSpec
from diffeditor_app.server.auth import TOKEN_ENV
from diffeditor_app.server.limits import Limits

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
RAY_TOKEN_BYTES = 32  # Ray's own token (its internal ports), new for every local instance
LIMITS_ENV = "DIFFEDITOR_SERVER_LIMITS"  # the limits, as JSON, for Serve's proxy process
CALLBACK_ENV = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"  # Serve's proxy callback
CALLBACK = "diffeditor_app.server.door.proxy_middlewares"  # the door (server/door.py)


def serve_environment(token: str, limits: Limits) -> dict[str, str]:
    """What Serve's proxy process needs in its environment to open the door."""
    return {CALLBACK_ENV: CALLBACK, TOKEN_ENV: token, LIMITS_ENV: json.dumps(asdict(limits))}


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


def check_config(config: ServerConfig) -> None:
    """What can be refused before Ray starts: the device, the model, a port in use."""
    from diffeditor_app.engine.models.loading import check_device, locate  # torch: only here

    check_device(config.device)
    locate(config.model)
    if config.replicas is not None and config.replicas < 1:
        raise InvalidInput(f"'--replicas' must be 1 or more, got {config.replicas}.")
    if not 0 < config.port < 65536:
        raise InvalidInput(f"'--port' must be between 1 and 65535, got {config.port}.")
    if config.address is None:
        with socket.socket() as probe:
            try:
                probe.bind((config.host, config.port))
            except OSError as error:
                raise InvalidInput(
                    f"Cannot listen on '{config.host}:{config.port}' ({error.strerror or error}); "
                    "choose another '--port' or '--host'."
                ) from None


def ray_environment(config: ServerConfig, token: str) -> dict[str, str]:
    """The environment Ray must start with (set before `import ray`: Ray reads it then, and
    its processes inherit it).

    A local instance runs as Ray does on a laptop: its node address is 127.0.0.1, so its
    gRPC servers, agents and metrics endpoints listen on loopback only, and its token
    authentication is on, with a token of its own that is never written to disk. Serve's
    proxy opens the door (door.py) with the server's token and limits. A joined cluster keeps
    its own settings (the README's server section says what it needs)."""
    environment = serve_environment(token, config.limits)
    if config.address is None:
        environment |= {
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # node address: loopback
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(RAY_TOKEN_BYTES),
        }
    return environment


def exposure_note(config: ServerConfig) -> str | None:
    """The one warning of a server others can reach: Ray's own ports are then its to guard."""
    if config.address is not None:
        return (
            f"Ray's internal ports on the cluster at '{config.address}' answer anyone who can "
            "reach them: keep them behind a firewall or start the cluster with Ray's token "
            "authentication (RAY_AUTH_MODE=token)."
        )
    if config.host not in LOOPBACK_HOSTS:
        return (
            f"The server listens on '{config.host}'; this machine's Ray keeps its internal "
            "ports on loopback with token authentication, but a firewall or Ray's token "
            "authentication (RAY_AUTH_MODE=token) must guard them on any cluster it joins."
        )
    return None
