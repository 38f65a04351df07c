"""`diffeditor serve` as a child process, for tests and benchmarks: start it in its own
process group, wait for its `serving on` line, stop it by its own process id (a graceful
SIGTERM, so it shuts its Ray instance down), and by its process group only as a last resort.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

READY_PREFIX = "serving on "
START_TIMEOUT_S = 300.0  # Ray start-up and model loading on a busy 2-core machine
STOP_TIMEOUT_S = 60.0  # Serve's and Ray's shutdown after SIGTERM


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free on `host` now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ServerProcess:
    """One `diffeditor serve` child; use as a context manager."""

    def __init__(
        self,
        args: Sequence[str],
        token: str,
        log: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.args = [sys.executable, "-m", "diffeditor_app.cli", "serve", *args]
        self.env = {**os.environ, **(env or {}), "DIFFEDITOR_TOKEN": token}
        self.log = log
        self.url: str | None = None
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        """Start and wait for the ready line; its URL. RuntimeError (with the log's tail)
        when the server exits or stays silent past START_TIMEOUT_S."""
        with open(self.log, "w") as stderr:
            self.process = subprocess.Popen(
                self.args,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=self.env,
                text=True,
                start_new_session=True,  # its own process group
            )
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if selector.select(timeout=1.0):
                text = self.process.stdout.readline()
                if text.startswith(READY_PREFIX):
                    self.url = text[len(READY_PREFIX) :].strip()
                    return self.url
            if self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"diffeditor serve did not start:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> int | None:
        """SIGTERM to the server's own pid, then its group if it does not end in time."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return process.wait(timeout=STOP_TIMEOUT_S)
        finally:
            if process.stdout is not None:
                process.stdout.close()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
