"""What one request and one client may ask of the server, and the per-client queue count.

Every limit of the server lives here, each declared once with the `serve` flag that sets
it, so the flag's check, the info endpoint and the refusals agree. Ray-free, so the limits
are unit-tested without starting a server.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from diffeditor_app.engine.errors import InvalidInput

MIB = 1024 * 1024
MAX_DRAG_PAIRS = 128  # handle/target pairs of one edit: a few in a drag, 68 in a face edit
MAX_TEXT_CHARS = 4000  # a prompt or a file name; the text encoder reads 77 tokens anyway


def flag(name: str) -> dict[str, str]:
    """Field metadata: the `diffeditor serve` flag that sets this limit."""
    return {"flag": name}


@dataclass(frozen=True)
class Limits:
    """The server's limits: past the size ones a request gets 413, past the time-outs 408,
    past the queue 429."""

    max_upload_bytes: int = field(default=64 * MIB, metadata=flag("--max-upload-mb"))
    max_megapixels: float = field(default=16.0, metadata=flag("--max-megapixels"))
    queue_per_client: int = field(default=4, metadata=flag("--queue-limit"))
    header_timeout_s: float = field(default=10.0, metadata=flag("--header-timeout"))
    body_timeout_s: float = field(default=120.0, metadata=flag("--body-timeout"))

    def __post_init__(self) -> None:
        """Every limit is a finite number above 0: a NaN or negative one would make a server
        that refuses (or accepts) everything."""
        for spec in fields(self):
            value = getattr(self, spec.name)
            shown = spec.metadata.get("flag", spec.name)
            if spec.name == "max_upload_bytes":
                value = value / MIB
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInput(f"'{shown}' must be a number, got {value!r}.")
            if not math.isfinite(value) or value <= 0:
                raise InvalidInput(f"'{shown}' must be a number above 0, got {value:g}.")

    @classmethod
    def from_flags(
        cls,
        upload_mb: float,
        megapixels: float,
        queue: int,
        header_timeout_s: float,
        body_timeout_s: float,
    ) -> Limits:
        """The limits of `diffeditor serve`'s flags, checked before any is converted."""
        if not math.isfinite(upload_mb) or upload_mb <= 0:
            raise InvalidInput(f"'--max-upload-mb' must be a number above 0, got {upload_mb:g}.")
        return cls(int(upload_mb * MIB), megapixels, queue, header_timeout_s, body_timeout_s)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)

    def describe(self) -> dict[str, Any]:
        """The limits as the info endpoint lists them."""
        return asdict(self)

    def upload_sentence(self, size: int) -> str:
        return (
            f"The request is {size / MIB:.1f} MiB; this server accepts up to "
            f"{self.max_upload_bytes / MIB:.1f} MiB."
        )

    def queue_sentence(self) -> str:
        return (
            f"This client already has {self.queue_per_client} edits queued or running on the "
            "server; wait for one to finish."
        )

    def header_sentence(self) -> str:
        return (
            f"The request's headers did not arrive within {self.header_timeout_s:g} s; "
            "the connection is closed."
        )

    def body_sentence(self) -> str:
        return (
            f"The request's body did not arrive within {self.body_timeout_s:g} s; send it "
            "again on a faster line."
        )


def token_identity(token: str) -> str:
    """A short, non-secret name of a token: what the queue limit counts it as."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def client_key(token: str, address: str) -> str:
    """Whose queue slots a request takes: its authenticated token and its network address.
    Neither is the client's own choice, so a made-up client id cannot bypass the limit and
    reusing another's id cannot use up their slots."""
    return f"{token_identity(token)}@{address}"


class ClientSlots:
    """Edits in flight per client key; thread-safe, since requests arrive concurrently."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, client: str) -> bool:
        """Take a slot for `client`; False when it holds all of its slots already."""
        with self._lock:
            held = self._counts.get(client, 0)
            if held >= self.per_client:
                return False
            self._counts[client] = held + 1
            return True

    def release(self, client: str) -> None:
        with self._lock:
            held = self._counts.get(client, 0) - 1
            if held > 0:
                self._counts[client] = held
            else:
                self._counts.pop(client, None)

    def held(self, client: str) -> int:
        with self._lock:
            return self._counts.get(client, 0)
