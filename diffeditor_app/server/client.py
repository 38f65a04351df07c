"""The client of `diffeditor serve`: `RemoteEditor` edits like the engine's `Editor`.

`RemoteEditor.edit(request, on_step, on_prepare, interrupt, preview_budget)` has the
engine's signature and callbacks, so the app's worker and the CLI run a server edit through
the code they use for a local one: the same progress, previews, cancel and result. It needs
httpx only (no Ray, no Qt). Every failure is one sentence: `InvalidInput` for what the
server refused as bad input (400, 401, 413, 422), `ServerUnavailable` for the rest.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from diffeditor_app.engine.editor import (
    EditResult,
    Interrupt,
    PrepareHandler,
    StepHandler,
    StepInfo,
)
from diffeditor_app.engine.errors import EditCancelled, EngineError, InvalidInput
from diffeditor_app.engine.requests import EditRequest
from diffeditor_app.server.api import (
    CLIENT_HEADER,
    EDITS_PATH,
    INFO_PATH,
    PREVIEW_MAX_SIDE,
    TERMINAL,
    PreviewOptions,
    decode_preview,
    decode_result,
    encode_request,
)
from diffeditor_app.server.auth import TOKEN_ENV

CONNECT_TIMEOUT_S = 10.0  # a server that does not answer within this is not there
READ_TIMEOUT_S = 60.0  # the server sends a heartbeat every second; silence this long is a drop
CANCEL_EVENTS = 120  # events read after a cancel while waiting for the server to confirm it
REFUSED_AS_BAD_INPUT = {400, 401, 403, 413, 422}  # the CLI's exit code 2


class ServerUnavailable(EngineError):
    """The server cannot be reached, dropped the edit, or is busy (HTTP 429, 5xx)."""


@dataclass(frozen=True)
class ServerAddress:
    """Where edits run when not on this computer: the server's base URL and its token."""

    url: str  # http(s)://host:port, no trailing path
    token: str

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise InvalidInput(f"The server URL '{self.url}' must start with http:// or https://.")
        if not self.token:
            raise InvalidInput(
                f"No token for the server {self.url}: set {TOKEN_ENV} (CLI) or the token in "
                "Preferences > Performance (app) to the server's token."
            )

    @classmethod
    def from_env(cls, url: str) -> ServerAddress:
        """The CLI's address: the token comes from DIFFEDITOR_TOKEN."""
        return cls(url.rstrip("/"), os.environ.get(TOKEN_ENV, "").strip())


class ServerClient:
    """HTTP calls to one server, authorised with its token, under one client id."""

    def __init__(self, address: ServerAddress, client_id: str | None = None) -> None:
        self.address = address
        self.client_id = client_id or uuid.uuid4().hex
        self._http = httpx.Client(
            base_url=address.url.rstrip("/"),
            headers={"Authorization": f"Bearer {address.token}", CLIENT_HEADER: self.client_id},
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        )

    def close(self) -> None:
        self._http.close()

    def info(self) -> dict[str, Any]:
        """The server's model, device, replicas and limits."""
        with self._calling():
            response = self._http.get(INFO_PATH)
        check(response, self.address.url)
        return response.json()

    def cancel(self, job: str) -> None:
        """Ask the server to stop `job`; the edit's stream then ends with `cancelled`."""
        with self._calling():
            response = self._http.post(f"{EDITS_PATH}/{job}/cancel")
        if response.status_code != 404:  # already over: nothing to cancel
            check(response, self.address.url)

    @contextmanager
    def events(self, payload: dict[str, Any]) -> Iterator[Iterator[dict[str, Any]]]:
        """Submit an edit and follow its events, one JSON object per line."""
        with self._calling(), self._http.stream("POST", EDITS_PATH, json=payload) as response:
            if response.status_code != 200:
                response.read()
                check(response, self.address.url)
            yield (json.loads(line) for line in response.iter_lines() if line.strip())

    @contextmanager
    def _calling(self) -> Iterator[None]:
        """Network failures as one sentence each."""
        url = self.address.url
        try:
            yield
        except httpx.ConnectError:
            raise ServerUnavailable(
                f"Cannot reach the server at {url}; check the URL and that it is running."
            ) from None
        except httpx.TimeoutException:
            raise ServerUnavailable(
                f"The server at {url} stopped answering; nothing was changed, try again."
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            raise ServerUnavailable(
                f"The connection to the server at {url} was lost during the edit; nothing "
                "was changed, run the edit again."
            ) from None


def check(response: httpx.Response, url: str) -> None:
    """Raise the server's sentence for any status but 200."""
    if response.status_code == 200:
        return
    try:
        sentence = str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        sentence = f"The server at {url} answered HTTP {response.status_code}."
    if response.status_code in REFUSED_AS_BAD_INPUT:
        raise InvalidInput(sentence)
    raise ServerUnavailable(sentence)


class RemoteEditor:
    """An `Editor` look-alike that runs each edit on a server. Not thread-safe: one owner
    (the worker thread, or the CLI)."""

    def __init__(self, address: ServerAddress, client_id: str | None = None) -> None:
        self.address = address
        self.client = ServerClient(address, client_id)
        self.job: str | None = None  # the running job's id on the server
        self.replica_pid: int | None = None  # which server process runs it (diagnostics)

    def close(self) -> None:
        self.client.close()

    def edit(
        self,
        request: EditRequest,
        on_step: StepHandler | None = None,
        on_prepare: PrepareHandler | None = None,
        interrupt: Interrupt | None = None,
        preview_budget: float | None = None,
        preview_max_side: int = PREVIEW_MAX_SIDE,
    ) -> EditResult:
        """One edit on the server. `preview_budget` None asks for every step's preview (the
        CLI's --previews), a number for the GUI's throttled ones; without `on_step` no
        previews are sent. `interrupt` runs at every event (a heartbeat comes each second);
        when it raises EditCancelled the server is told and the error re-raised."""
        request.checked()  # bad input fails here, with the local sentence, before any upload
        if on_step is None:
            previews = PreviewOptions("none", preview_max_side)
        elif preview_budget is None:
            previews = PreviewOptions("all", preview_max_side)
        else:
            previews = PreviewOptions("throttled", preview_max_side, preview_budget)
        payload = encode_request(request, previews)
        self.job, self.replica_pid = None, None
        with self.client.events(payload) as events:
            for event in events:
                try:
                    if interrupt is not None:
                        interrupt()
                except EditCancelled:
                    self._cancel(events)
                    raise
                result = self._handle(event, on_step, on_prepare)
                if result is not None:
                    return result
        raise ServerUnavailable(
            f"The server at {self.address.url} ended the edit without a result; nothing was "
            "changed, run the edit again."
        )

    def _handle(
        self,
        event: dict[str, Any],
        on_step: StepHandler | None,
        on_prepare: PrepareHandler | None,
    ) -> EditResult | None:
        kind = event.get("type")
        if kind == "accepted":
            self.job = event["id"]
        elif kind == "started":
            self.replica_pid = event.get("pid")
        elif kind == "preparing" and on_prepare is not None:
            on_prepare(int(event["done"]), int(event["total"]))
        elif kind == "step" and on_step is not None:
            preview = event.get("preview")
            rgb = decode_preview(preview) if preview else None
            on_step(StepInfo(int(event["step"]), int(event["total"]), rgb))
        elif kind == "finished":
            return decode_result(event["result"])
        elif kind == "failed":
            message = str(event.get("message", "The edit failed on the server."))
            raise InvalidInput(message) if event.get("bad_input") else ServerUnavailable(message)
        elif kind == "cancelled":
            raise EditCancelled("The edit was cancelled.")
        return None

    def _cancel(self, events: Iterator[dict[str, Any]]) -> None:
        """Tell the server, then read on until it confirms (at most CANCEL_EVENTS events, each
        within the read timeout), so its queue slot is free when this returns."""
        if self.job is None:
            return
        try:
            self.client.cancel(self.job)
            for waited, event in enumerate(events):
                if event.get("type") in TERMINAL or waited >= CANCEL_EVENTS:
                    return
        except (EngineError, httpx.HTTPError):
            return  # the edit is cancelled on this side either way
