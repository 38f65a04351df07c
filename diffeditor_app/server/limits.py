"""What one request and one client may ask of the server, and the per-client queue count.

Ray-free, so the limits are unit-tested without starting a server.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The server's limits; exceeding the first two gives 413, the third 429."""

    max_upload_bytes: int = 64 * MIB  # a request body (base64 images and masks)
    max_megapixels: float = 16.0  # per image, read from its header before decoding
    queue_per_client: int = 4  # edits one client may have queued or running at once

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


class ClientSlots:
    """Edits in flight per client id; thread-safe, since requests arrive concurrently."""

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
