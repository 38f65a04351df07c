"""Hub access is bounded: an endpoint that accepts connections and never answers fails
within the issue's 30 s with the usual sentence, instead of hanging a download."""

from __future__ import annotations

import socket
import threading

import pytest

from diffeditor_app.engine.errors import ModelUnavailable
from diffeditor_app.engine.models.hub import hub_snapshot
from diffeditor_app.engine.models.loading import HUB_PATTERNS

DEADLINE_S = 30  # what a user may wait for a silent hub before the sentence
SERVER_LIFETIME_S = 90  # the silent server stops by itself after this, whatever happens


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers; stops when asked or after
    SERVER_LIFETIME_S, closing every connection it held."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for _ in range(int(SERVER_LIFETIME_S / 0.2)):
            if self.stopped.is_set():
                break
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.held.append(connection)
        for connection in self.held:
            connection.close()
        self.socket.close()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


@pytest.fixture
def silent_hub(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    server = SilentServer()
    endpoint = f"http://127.0.0.1:{server.port}"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        hub_constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        endpoint + "/{repo_id}/resolve/{revision}/{filename}",
    )
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    yield server
    server.stop()


def test_a_silent_hub_fails_within_the_deadline_with_the_sentence(silent_hub):
    outcome: list[BaseException | object] = []

    def download() -> None:
        try:
            outcome.append(hub_snapshot("someone/silent-model", True, HUB_PATTERNS))
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=download, daemon=True)
    worker.start()
    worker.join(timeout=DEADLINE_S)
    finished = not worker.is_alive()
    silent_hub.stop()  # releases a hung request too, so nothing outlives the test
    worker.join(timeout=10)
    assert finished, f"the download was still waiting after {DEADLINE_S} s"
    assert silent_hub.held, "the request never reached the silent server"
    (error,) = outcome
    assert isinstance(error, ModelUnavailable), error
    message = str(error)
    assert "someone/silent-model" in message and "unreachable" in message
