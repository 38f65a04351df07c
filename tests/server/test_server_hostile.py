"""Hostile input against a running `diffeditor serve` (issue 25), as raw bytes over sockets
and httpx: one server (one CPU replica of the tiny model) for the module, on loopback,
stopped by its own process id."""

from __future__ import annotations

import pytest

pytest.importorskip("ray", reason="needs the [serve] extra (Ray Serve)")
pytest.importorskip("fastapi", reason="needs the [serve] extra (FastAPI)")
pytest.importorskip("grpc", reason="needs the [serve] extra (Ray's gRPC door)")

import base64
import contextlib
import io
import json
import socket
import time

import grpc
import httpx
import psutil
from PIL import Image

from diffeditor_app.cli import main
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.server.api import EDITS_PATH, INFO_PATH, encode_request
from diffeditor_app.server.process import free_port
from tests.server.conftest import cli_move, serving

TOKEN = "hostile-test-token"
WIDTH, HEIGHT = 96, 64
HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 3
SOCKET_TIMEOUT_S = 30.0  # far past both time-outs: a hang fails the test instead of stalling it
HTTP_TIMEOUT_S = 60.0
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
WILDCARD = ("0.0.0.0", "::")


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    args = [
        "--model", str(tiny_model_dir), "--device", "cpu", "--replicas", "1",
        "--host", "127.0.0.1", "--port", str(free_port()), "--queue-limit", "1",
        "--max-upload-mb", "4", "--max-megapixels", "0.1",
        "--header-timeout", str(HEADER_TIMEOUT_S), "--body-timeout", str(BODY_TIMEOUT_S),
    ]  # fmt: skip
    yield from serving(args, TOKEN, log)


@pytest.fixture(scope="module")
def port(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def payload(steps: int = 4, **changes) -> dict:
    image, mask = square_scene(WIDTH, HEIGHT)
    return {
        **encode_request(MoveEdit(image=image, mask=mask, offset=(14, 3), steps=steps)),
        **changes,
    }


def auth(extra: dict | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **(extra or {})}


def post(server, body: bytes | dict, headers: dict | None = None) -> httpx.Response:
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return http.post(server.url + EDITS_PATH, content=content, headers=headers or auth())


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return answer


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send `data` and read the answer until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as connection:
        connection.sendall(data)
        return read_until_closed(connection)


def status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


# -- Ray's own ports --------------------------------------------------------------------------


def listeners(root: int) -> list[tuple[str, int, str]]:
    """(address, port, process name) of every TCP socket the server's processes listen on."""
    tree = psutil.Process(root)
    pids = {root, *(child.pid for child in tree.children(recursive=True))}
    found = []
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.pid in pids:
            name = psutil.Process(connection.pid).name()
            found.append((connection.laddr.ip, connection.laddr.port, name))
    return found


ASGI_METHODS = ("HandleRequest", "HandleRequestStreaming")  # Serve's replica gRPC service


def refuses_without_ray_token(port: int) -> bool:
    """Whether every call of Serve's replica service without Ray's token is refused as
    unauthenticated."""
    codes = set()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        for method in ASGI_METHODS:
            try:
                channel.unary_unary(f"/ray.serve.ASGIService/{method}")(b"", timeout=10)
            except grpc.RpcError as error:
                codes.add(error.code())
            else:
                codes.add(grpc.StatusCode.OK)
    return codes == {grpc.StatusCode.UNAUTHENTICATED}


def test_nothing_listens_beyond_loopback_unauthenticated(server):
    """Ray's processes listen on loopback; the only sockets Ray binds everywhere (Serve's
    inter-deployment gRPC, hard-wired to [::]) refuse calls without Ray's token."""
    found = listeners(server.process.pid)
    assert any(name == "raylet" for _, _, name in found) and len(found) > 5
    outside = [(ip, port, name) for ip, port, name in found if ip not in LOOPBACK]
    assert all(ip in WILDCARD for ip, _, _ in outside), outside
    assert all(refuses_without_ray_token(port) for _, port, _ in outside), outside


# -- the HTTP door ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/-/routes", "/-/healthz", INFO_PATH, "/anything"])
def test_serve_built_in_routes_need_the_token(server, path):
    answer = httpx.get(server.url + path, timeout=HTTP_TIMEOUT_S)
    assert answer.status_code == 401 and "token" in answer.json()["error"]
    wrong = httpx.get(server.url + path, headers={"Authorization": "Bearer no"}, timeout=60)
    assert wrong.status_code == 401


def test_slow_headers_get_408_and_the_connection_closes(port):
    connections = [socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)]
    connections += [socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)]
    try:
        for connection in connections:
            connection.sendall(b"POST /v1/edits HTTP/1.1\r\nHost: x\r\n")
        for connection in connections:
            status, body = status_and_json(read_until_closed(connection))
            assert status == 408 and "headers did not arrive" in body["error"]
    finally:
        for connection in connections:
            connection.close()


def read_response(connection: socket.socket) -> tuple[int, bytes]:
    """One response with a content-length from `connection`, leaving it open."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := connection.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(v) for k, _, v in (x.partition(":") for x in lines) if k.lower() == "content-length"
    )
    while len(body) < length and (chunk := connection.recv(65536)):
        body += chunk
    return int(lines[0].split()[1]), body


def test_slow_headers_of_a_second_request_on_a_kept_alive_connection_get_408(port):
    """uvicorn's keep-alive time-out stops counting at the next request's first byte; the
    header time-out then counts for that request as for the first."""
    first = f"GET {INFO_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as connection:
        connection.sendall(first.encode())
        assert read_response(connection)[0] == 200
        connection.sendall(b"POST /v1/edits HTTP/1.1\r\nHost: x\r\n")
        answer = read_until_closed(connection)
    status, body = status_and_json(answer)
    assert status == 408 and "headers did not arrive" in body["error"]


def test_a_body_shorter_than_its_length_gets_408(port):
    head = f"POST {EDITS_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
    answer = raw_exchange(port, (head + "Content-Length: 1000\r\n\r\n").encode() + b"12345678")
    status, body = status_and_json(answer)
    assert status == 408 and "body did not arrive" in body["error"]


def test_a_slow_chunked_upload_gets_408(port):
    head = f"POST {EDITS_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as connection:
        connection.sendall(head.encode())
        for _ in range(BODY_TIMEOUT_S * 4):  # a chunk every half second, never the last one
            try:
                connection.sendall(b"4\r\n[[[[\r\n")
            except OSError:
                break
            time.sleep(0.5)
        with contextlib.suppress(OSError):  # the server may have closed it already
            connection.shutdown(socket.SHUT_WR)
        answer = read_until_closed(connection)
    status, body = status_and_json(answer)
    assert status == 408 and "body did not arrive" in body["error"]


def test_an_upload_past_the_limit_gets_413_from_its_declared_length(port):
    head = f"POST {EDITS_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
    answer = raw_exchange(port, (head + "Content-Length: 999999999\r\n\r\n").encode())
    assert status_and_json(answer)[0] == 413


# -- requests refused before they are queued -----------------------------------------------------


def png(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode()


def huge_mask() -> dict:
    body = payload()
    body["images"]["mask"]["png"] = png(15000, 15000)
    return body


def many_pairs() -> dict:
    body = {k: v for k, v in payload().items() if k not in ("offset", "scale")}
    return {**body, "task": "drag", "pairs": [[[1, 1], [2, 2]]] * 100_000}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"[" * 200_000, 400, "not JSON"),
        (b"\xff\xfe garbage", 400, "not JSON"),
        (lambda: payload(previews={"mode": "bogus"}), 400, "'previews.mode' must be one of"),
        (lambda: payload(resolution=99999), 422, "working resolution must be between"),
        (lambda: payload(resolution=-5), 422, "working resolution must be between"),
        (lambda: payload(overrides={"bogus": 1}), 400, "Unknown setting 'bogus'"),
        (lambda: payload(overrides={"eta_in": 7}), 422, "eta_in must be between 0 and 1"),
        (huge_mask, 422, "is 15000x15000 but the image is 96x64"),
        (many_pairs, 413, "this server takes up to"),
    ],
)
def test_bad_requests_get_4xx_json_before_any_job(server, body, status, words):
    answer = post(server, body() if callable(body) else body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert words in error and "Unexpected error" not in error and "\n" not in error


def test_a_ten_gigapixel_header_is_413(server, bomb_png):
    body = payload()
    body["images"]["image"]["png"] = base64.b64encode(bomb_png(100_000, 100_000)).decode()
    answer = post(server, body)
    assert answer.status_code == 413 and "megapixels" in answer.json()["error"]


# -- the queue limit's key ----------------------------------------------------------------------


def test_the_queue_limit_counts_the_token_and_address_not_the_client_id(server):
    """Limit 1: a made-up id from the same address is refused; another address using the
    first client's id is not. The held stream's line iterator is kept for the whole test:
    a discarded one closes the connection (httpcore closes its stream when the generator is
    closed), which cancels the held edit and frees its slot before the made-up id is tried."""
    long_edit = json.dumps(payload(steps=1000)).encode()
    ids = "X-DiffEditor-Client"
    with (
        httpx.Client(base_url=server.url, timeout=HTTP_TIMEOUT_S) as http,
        http.stream("POST", EDITS_PATH, content=long_edit, headers=auth({ids: "a"})) as held,
    ):
        assert held.status_code == 200
        lines = held.iter_lines()
        job = json.loads(next(lines))["id"]
        made_up = post(server, long_edit, auth({ids: "made-up"}))
        assert made_up.status_code == 429
        assert accepted_from("127.0.0.2", server.url, long_edit, auth({ids: "a"}))
        http.post(f"{EDITS_PATH}/{job}/cancel", headers=auth())
        kinds = [json.loads(text)["type"] for text in lines if text]
        assert kinds[-1] == "cancelled"


def accepted_from(source: str, url: str, body: bytes, headers: dict) -> bool:
    """Whether an edit sent from `source` is accepted (its stream is closed at once, which
    cancels it)."""
    transport = httpx.HTTPTransport(local_address=source)
    with (
        httpx.Client(transport=transport, base_url=url, timeout=HTTP_TIMEOUT_S) as http,
        http.stream("POST", EDITS_PATH, content=body, headers=headers) as answer,
    ):
        return answer.status_code == 200 and "accepted" in next(answer.iter_lines())


# -- the CLI as the server's client -------------------------------------------------------------


def test_edit_with_server_exits_2_when_the_server_refuses_bad_input(
    server, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIFFEDITOR_TOKEN", TOKEN)
    args = cli_move(tmp_path, WIDTH, HEIGHT)
    args += ["--offset", "8,0", "--steps", "2", "--resolution", "99999", "--server", server.url]
    assert main([*args, "--out", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err
    assert "working resolution must be between" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()
