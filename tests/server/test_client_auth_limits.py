"""The server's client, token and limits without Ray: a scripted HTTP transport stands in for
the server (httpx.MockTransport), so stream handling, errors and cancel are checked exactly."""

from __future__ import annotations

import json
import stat

import httpx
import numpy as np
import pytest

from diffeditor_app.engine import EditCancelled, InvalidInput
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.runtime.settings import APP_NAME as SETTINGS_APP_NAME
from diffeditor_app.server import auth
from diffeditor_app.server.api import CLIENT_HEADER, EDITS_PATH, encode_preview
from diffeditor_app.server.client import RemoteEditor, ServerAddress, ServerUnavailable
from diffeditor_app.server.limits import ClientSlots, Limits

URL = "http://127.0.0.1:8765"


def move() -> MoveEdit:
    image, mask = square_scene(96, 64)
    return MoveEdit(image=image, mask=mask, offset=(8, 0), steps=3)


def lines(*events: dict) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


class Script:
    """A fake server: answers POST /v1/edits with `body` and records every request."""

    def __init__(self, body: bytes | httpx.SyncByteStream, status: int = 200) -> None:
        self.body, self.status = body, status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/cancel"):
            return httpx.Response(200, json={"cancelling": True})
        if isinstance(self.body, bytes):
            return httpx.Response(self.status, content=self.body)
        return httpx.Response(self.status, stream=self.body)

    def editor(self) -> RemoteEditor:
        editor = RemoteEditor(ServerAddress(URL, "secret"), client_id="me")
        editor.client._http._transport = httpx.MockTransport(self)
        return editor


def result_event() -> dict:
    from diffeditor_app.engine import EditResult
    from diffeditor_app.server.api import encode_result

    image, _ = square_scene(96, 64)
    result = EditResult(
        image=image.to_pil(), raw=False, prepare_s=0.0, edit_s=0.1, unet_forward=4,
        unet_backward=2, prepare_unet_forward=0, prepared_from_cache=True, seed=42, steps=3,
        resolution=64, working_size=(64, 48), device="cpu", dtype="float32", schedule={},
    )  # fmt: skip
    return {"type": "finished", "result": encode_result(result)}


def test_events_become_the_engine_callbacks_and_the_result():
    preview = encode_preview(np.zeros((48, 64, 3), np.uint8), 256)
    script = Script(
        lines(
            {"type": "accepted", "id": "j1"},
            {"type": "queued"},
            {"type": "started", "replica": "r", "pid": 123},
            {"type": "preparing", "done": 3, "total": 3},
            {"type": "heartbeat"},
            {"type": "step", "step": 0, "total": 3, "preview": preview},
            {"type": "step", "step": 1, "total": 3, "preview": None},
            result_event(),
        )
    )
    prepared, steps = [], []
    editor = script.editor()
    result = editor.edit(
        move(),
        on_step=lambda i: steps.append((i.step, None if i.preview is None else i.preview.shape)),
        on_prepare=lambda d, t: prepared.append((d, t)),
        preview_budget=0.3,
    )
    assert prepared == [(3, 3)] and steps == [(0, (48, 64, 3)), (1, None)]
    assert result.prepared_from_cache and result.image.size == (96, 64)
    assert editor.replica_pid == 123
    sent = script.requests[0]
    assert sent.headers["authorization"] == "Bearer secret" and sent.headers[CLIENT_HEADER] == "me"
    previews = json.loads(sent.content)["previews"]
    assert previews == {"mode": "throttled", "max_side": 256, "share": 0.3}


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, InvalidInput), (413, InvalidInput), (422, InvalidInput), (429, ServerUnavailable)],
)
def test_refusals_raise_the_server_sentence(status, error):
    script = Script(json.dumps({"error": "One sentence."}).encode(), status=status)
    with pytest.raises(error, match=r"^One sentence\.$"):
        script.editor().edit(move())


def test_a_failed_edit_and_a_stream_that_stops_short_are_clear_failures():
    failed = Script(lines({"type": "accepted", "id": "j"}, {"type": "failed", "message": "Boom."}))
    with pytest.raises(ServerUnavailable, match=r"^Boom\.$"):
        failed.editor().edit(move())
    short = Script(lines({"type": "accepted", "id": "j"}, {"type": "started", "pid": 1}))
    with pytest.raises(ServerUnavailable, match="ended the edit without a result"):
        short.editor().edit(move())


class Dropping(httpx.SyncByteStream):
    """A stream whose connection breaks after the first events."""

    def __iter__(self):
        yield lines({"type": "accepted", "id": "j"}, {"type": "started", "pid": 1})
        raise httpx.ReadError("connection reset")


def test_a_dropped_connection_mid_edit_is_one_sentence():
    with pytest.raises(ServerUnavailable, match="was lost during the edit; nothing was changed"):
        Script(Dropping()).editor().edit(move(), on_step=lambda info: None)


def test_an_unreachable_server_is_one_sentence():
    editor = RemoteEditor(ServerAddress("http://127.0.0.1:9", "secret"))
    with pytest.raises(ServerUnavailable, match="Cannot reach the server"):
        editor.edit(move())


def test_cancel_tells_the_server_and_waits_for_its_word():
    script = Script(
        lines(
            {"type": "accepted", "id": "job7"},
            {"type": "step", "step": 0, "total": 3, "preview": None},
            {"type": "heartbeat"},
            {"type": "cancelled"},
        )
    )
    seen = []

    def interrupt() -> None:
        if seen:
            raise EditCancelled("The edit was cancelled.")

    with pytest.raises(EditCancelled):
        script.editor().edit(move(), on_step=seen.append, interrupt=interrupt)
    assert [r.url.path for r in script.requests] == [EDITS_PATH, f"{EDITS_PATH}/job7/cancel"]


def test_an_address_needs_a_scheme_and_a_token(monkeypatch):
    with pytest.raises(InvalidInput, match="http:// or https://"):
        ServerAddress("127.0.0.1:8765", "t")
    monkeypatch.delenv(auth.TOKEN_ENV, raising=False)
    with pytest.raises(InvalidInput, match="DIFFEDITOR_TOKEN"):
        ServerAddress.from_env(URL)
    monkeypatch.setenv(auth.TOKEN_ENV, " abc ")
    assert ServerAddress.from_env(URL + "/") == ServerAddress(URL, "abc")


def test_the_token_file_is_created_once_owner_only(tmp_path):
    path = tmp_path / "config" / auth.TOKEN_FILE
    first = auth.read_or_create_token(path)
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == auth.TOKEN_MODE
    assert auth.read_or_create_token(path) == first
    assert auth.server_token(path, environ={auth.TOKEN_ENV: "from-env"}) == "from-env"
    assert auth.server_token(path, environ={}) == first
    assert auth.APP_NAME == SETTINGS_APP_NAME  # the app's own config folder


def test_bearer_matching():
    assert auth.bearer_matches("Bearer abc", "abc")
    assert auth.bearer_matches("bearer  abc ", "abc")
    for header in (None, "", "abc", "Basic abc", "Bearer abd", "Bearer "):
        assert not auth.bearer_matches(header, "abc")


def test_client_slots_count_per_client():
    slots = ClientSlots(per_client=2)
    assert slots.acquire("a") and slots.acquire("a") and not slots.acquire("a")
    assert slots.acquire("b")
    slots.release("a")
    assert slots.held("a") == 1 and slots.acquire("a")
    for _ in range(3):
        slots.release("b")
    assert slots.held("b") == 0


def test_limits_sentences():
    limits = Limits(max_upload_bytes=2 * 1024 * 1024, queue_per_client=3)
    assert limits.upload_sentence(5 * 1024 * 1024) == (
        "The request is 5.0 MiB; this server accepts up to 2.0 MiB."
    )
    assert "already has 3 edits" in limits.queue_sentence()
    assert limits.max_pixels == 16_000_000
