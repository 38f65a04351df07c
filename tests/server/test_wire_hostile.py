"""Hostile request bodies against the wire decoder, without a server: every body ends in a
decoded request or one sentence with a 4xx status, never another exception (issue 25).
The same cases go to a running server in test_server_hostile.py."""

from __future__ import annotations

import base64
import io
import json
import stat

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from diffeditor_app.cli import main
from diffeditor_app.engine import InvalidInput
from diffeditor_app.engine.models.model import ModelProfile
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.server import auth
from diffeditor_app.server.api import (
    BadRequest,
    TooLarge,
    check_for_model,
    decode_body,
    encode_request,
    status_for,
)
from diffeditor_app.server.client import RemoteEditor, ServerAddress
from diffeditor_app.server.limits import (
    MAX_DRAG_PAIRS,
    MIB,
    ClientSlots,
    Limits,
    client_key,
)
from diffeditor_app.server.process import free_port

WIDTH, HEIGHT = 96, 64
MAX_PIXELS = 100_000
PROFILE = ModelProfile(default_resolution=64, resolution_range=(64, 256), size_multiple=32)


def move_payload() -> dict:
    image, mask = square_scene(WIDTH, HEIGHT)
    return encode_request(MoveEdit(image=image, mask=mask, offset=(14, 3), steps=4))


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def refused(raw: bytes) -> tuple[int, str]:
    with pytest.raises(InvalidInput) as error:
        edit, _ = decode_body(raw, MAX_PIXELS)
        check_for_model(edit, PROFILE)
    return status_for(error.value), str(error.value)


def test_a_valid_body_decodes():
    edit, _ = decode_body(body(move_payload()), MAX_PIXELS)
    check_for_model(edit, PROFILE)
    assert edit.image.size == (WIDTH, HEIGHT) and edit.task.value == "move"


def test_deeply_nested_json_is_400_not_a_crash():
    assert refused(b"[" * 200_000) == (400, "The request body is not JSON.")
    assert refused(b"{" * 50_000)[0] == 400


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"previews": {"mode": "bogus"}}, 400, "'previews.mode' must be one of"),
        ({"previews": {"share": float("nan")}}, 400, "previews.share"),
        ({"resolution": 99999}, 422, "working resolution must be between 64 and 256"),
        ({"resolution": "big"}, 400, "'resolution' must be a whole number"),
        ({"overrides": {"nope": 1}}, 400, "Unknown setting 'nope' in 'overrides'"),
        ({"overrides": {"bank_mode": 1}}, 400, "Unknown setting 'bank_mode'"),
        ({"overrides": {"eta_in": 5.0}}, 422, "eta_in must be between 0 and 1"),
        ({"overrides": {"ip_from": 1.5}}, 400, "'overrides.ip_from' must be a whole number"),
        ({"overrides": []}, 400, "'overrides' must be an object"),
        ({"seed": 10**40}, 422, "seed must be between"),
        ({"steps": 10**6}, 422, "steps must be between"),
        ({"prompt": "x" * 5000}, 413, "'prompt' has 5000 characters"),
        ({"seed": [1] * 10_000}, 400, "'seed' must be a whole number"),
    ],
)
def test_unknown_and_bad_values_are_4xx_before_queueing(change, status, words):
    got_status, sentence = refused(body({**move_payload(), **change}))
    assert got_status == status and words in sentence
    assert "\n" not in sentence and len(sentence) < 300


def test_drag_pairs_past_the_limit_are_413_before_any_is_read():
    payload = move_payload()
    payload.update(task="drag", pairs=[[[1, 1], [2, 2]]] * 100_000)
    del payload["offset"], payload["scale"]
    status, sentence = refused(body(payload))
    assert status == 413 and f"up to {MAX_DRAG_PAIRS}" in sentence


def test_a_huge_mask_header_is_refused_before_decoding(bomb_png):
    payload = move_payload()
    payload["images"]["mask"]["png"] = b64(bomb_png(15000, 15000))
    status, sentence = refused(body(payload))
    assert status == 422 and "is 15000x15000 but the image is 96x64" in sentence


def test_a_mask_of_another_size_is_refused_from_its_header():
    payload = move_payload()
    picture = io.BytesIO()
    Image.new("L", (HEIGHT, WIDTH + 1)).save(picture, format="JPEG")
    payload["images"]["mask"]["png"] = b64(picture.getvalue())
    assert refused(body(payload))[0] == 422


def test_a_ten_gigapixel_header_is_413(bomb_png):
    payload = move_payload()
    payload["images"]["image"]["png"] = b64(bomb_png(100_000, 100_000))
    status, sentence = refused(body(payload))
    assert status == 413 and "megapixels" in sentence


def test_an_image_that_is_not_one_is_a_sentence():
    payload = move_payload()
    payload["images"]["image"]["png"] = b64(b"\x89PNG\r\n\x1a\nbroken")
    status, sentence = refused(body(payload))
    assert status in (400, 422) and "Error" not in sentence


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["task", "prompt", "seed", "steps", "resolution", "raw", "overrides", "image_prompt",
     "offset", "scale", "pairs", "at", "reference_prompt", "images", "previews", "bogus"]
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(FIELDS, JSON_VALUES, max_size=6), st.sampled_from(["move", "drag", "x"]))
def test_any_json_object_decodes_or_is_one_sentence(changes, task):
    payload = {**move_payload(), "task": task, **changes}
    try:
        edit, _ = decode_body(json.dumps(payload).encode(), MAX_PIXELS)
        check_for_model(edit, PROFILE)
    except InvalidInput as error:
        assert status_for(error) in (400, 413, 422)
        assert "\n" not in str(error) and str(error).endswith((".", ")"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_decode_or_are_one_sentence(raw):
    try:
        decode_body(raw, MAX_PIXELS)
    except (BadRequest, TooLarge, InvalidInput) as error:
        assert status_for(error) in (400, 413, 422) and "\n" not in str(error)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_image_bytes_are_an_image_or_one_sentence(data):
    payload = move_payload()
    payload["images"]["mask"]["png"] = b64(data)
    try:
        decode_body(body(payload), MAX_PIXELS)
    except InvalidInput as error:
        assert status_for(error) in (400, 413, 422) and "\n" not in str(error)


# -- limits, the queue key, the token file, the client, `serve` flags ------------------------


def test_the_queue_key_is_the_token_and_the_address_not_the_client_id():
    slots = ClientSlots(per_client=1)
    assert slots.acquire(client_key("token", "10.0.0.1"))
    assert not slots.acquire(client_key("token", "10.0.0.1"))  # whatever id it sends
    assert slots.acquire(client_key("token", "10.0.0.2"))
    assert slots.acquire(client_key("other token", "10.0.0.1"))
    assert "token" not in client_key("token", "10.0.0.1")  # the key never shows the token


@pytest.mark.parametrize(
    "values",
    [
        {"max_megapixels": float("nan")},
        {"max_megapixels": -1.0},
        {"queue_per_client": 0},
        {"body_timeout_s": float("inf")},
        {"header_timeout_s": 0},
    ],
)
def test_limits_refuse_nan_and_negative_values(values):
    with pytest.raises(InvalidInput, match="must be a number above 0"):
        Limits(**values)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--max-upload-mb", "nan"),
        ("--max-upload-mb", "-1"),
        ("--max-megapixels", "-5"),
        ("--queue-limit", "-1"),
        ("--body-timeout", "nan"),
        ("--header-timeout", "0"),
    ],
)
def test_serve_refuses_bad_limits_with_exit_2_and_one_sentence(tiny_model_dir, capsys, flag, value):
    code = main(["serve", "--model", str(tiny_model_dir), flag, value])
    err = capsys.readouterr().err
    assert code == 2 and f"'{flag}' must be a number above 0" in err
    assert len(err.strip().splitlines()) == 1 and "ValueError" not in err


def test_a_token_file_others_may_read_is_refused(tmp_path, tiny_model_dir, monkeypatch, capsys):
    path = tmp_path / "server-token"
    path.write_text("secret\n")
    path.chmod(0o644)
    with pytest.raises(InvalidInput, match=r"has mode 0644, so others may read it; run 'chmod 600"):
        auth.read_or_create_token(path)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert auth.read_or_create_token(path) == "secret"
    path.chmod(0o640)
    monkeypatch.delenv(auth.TOKEN_ENV, raising=False)
    monkeypatch.setattr(auth, "default_token_path", lambda: path)
    assert main(["serve", "--model", str(tiny_model_dir), "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "mode 0640" in err and len(err.strip().splitlines()) == 1


def test_a_failed_event_for_bad_input_is_invalid_input():
    """The CLI's exit 2 when the server refuses the edit as bad input after queueing."""
    events = [
        {"type": "accepted", "id": "j"},
        {"type": "failed", "message": "Bad.", "bad_input": True},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"".join(body(e) + b"\n" for e in events))

    editor = RemoteEditor(ServerAddress("http://127.0.0.1:1", "t"))
    editor.client._http._transport = httpx.MockTransport(answer)
    image, mask = square_scene(WIDTH, HEIGHT)
    with pytest.raises(InvalidInput, match="Bad"):
        editor.edit(MoveEdit(image=image, mask=mask, offset=(4, 0), steps=2))


def test_upload_limit_from_flags():
    assert Limits.from_flags(2.0, 1.0, 1, 1.0, 1.0).max_upload_bytes == 2 * MIB
