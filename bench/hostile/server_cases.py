"""Issue 25's hostile list for `diffeditor serve`: each case prints PASS or FAIL, then the
count. Starts one server (the tiny model, one CPU replica) on 127.0.0.1 and stops it by its
own process id.

    python bench/hostile/server_cases.py
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import psutil
from PIL import Image

from diffeditor_app.engine.models.testing import square_scene, write_tiny_model
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.server.api import EDITS_PATH, INFO_PATH, encode_request
from diffeditor_app.server.process import ServerProcess, free_port

TOKEN = "hostile-bench-token"
BODY_TIMEOUT_S = 3
SOCKET_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 60.0
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
CLI = [sys.executable, "-m", "diffeditor_app.cli"]
Case = Callable[[], bool]


def payload(steps: int = 4, **changes) -> dict:
    image, mask = square_scene(96, 64)
    return {
        **encode_request(MoveEdit(image=image, mask=mask, offset=(14, 3), steps=steps)),
        **changes,
    }


def bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + rows + chunk(b"IEND", b"")


def with_image(name: str, data: bytes) -> dict:
    body = payload()
    body["images"][name]["png"] = base64.b64encode(data).decode()
    return body


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="JPEG")
    return buffer.getvalue()


class Bench:
    def __init__(self, url: str, root_pid: int) -> None:
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.root_pid = root_pid

    def post(self, body: bytes | dict, headers: dict | None = None) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {TOKEN}"} if headers is None else headers
        return httpx.post(self.url + EDITS_PATH, content=content, headers=headers, timeout=60)

    def refused(self, body: bytes | dict, status: int, words: str) -> bool:
        answer = self.post(body)
        try:
            error = answer.json()["error"]
        except (ValueError, KeyError, TypeError):
            return False
        return answer.status_code == status and words in error and "\n" not in error

    def raw(self, data: bytes, trickle: bytes | None = None) -> tuple[int, str]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=SOCKET_TIMEOUT_S) as s:
            s.sendall(data)
            for _ in range(BODY_TIMEOUT_S * 4 if trickle else 0):
                try:
                    s.sendall(trickle)
                except OSError:
                    break
                time.sleep(0.5)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(body)["error"]

    def head(self, extra: str = "") -> bytes:
        start = f"POST {EDITS_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        return (start + extra).encode()

    def listeners_private(self) -> bool:
        tree = psutil.Process(self.root_pid)
        pids = {self.root_pid, *(child.pid for child in tree.children(recursive=True))}
        outside = [
            c.laddr.port
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.pid in pids and c.laddr.ip not in LOOPBACK
        ]
        for port in outside:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                try:
                    channel.unary_unary("/ray.serve.ASGIService/HandleRequest")(b"", timeout=10)
                    return False
                except grpc.RpcError as error:
                    if error.code() != grpc.StatusCode.UNAUTHENTICATED:
                        return False
        return True

    def slow_headers(self, count: int) -> bool:
        sockets = [
            socket.create_connection(("127.0.0.1", self.port), timeout=30) for _ in range(count)
        ]
        try:
            for s in sockets:
                s.sendall(b"GET /v1/info HTTP/1.1\r\nHost: x\r\n")
            return all(s.recv(100).startswith(b"HTTP/1.1 408") for s in sockets)
        finally:
            for s in sockets:
                s.close()

    def slow_second_request(self) -> bool:
        """A kept-alive connection: one answered request, then a second one's headers
        trickle in part; 408 within the header time-out."""
        first = f"GET {INFO_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=SOCKET_TIMEOUT_S) as s:
            s.sendall(first.encode())
            data = b""
            while b"\r\n\r\n" not in data and (chunk := s.recv(65536)):
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            fields = (line.partition(b":") for line in head.split(b"\r\n")[1:])
            length = next(int(v) for k, _, v in fields if k.strip().lower() == b"content-length")
            while len(body) < length and (chunk := s.recv(65536)):
                body += chunk
            if not head.startswith(b"HTTP/1.1 200"):
                return False
            s.sendall(b"GET /v1/info HTTP/1.1\r\nHost: x\r\n")
            return s.recv(100).startswith(b"HTTP/1.1 408")

    def queue_key(self) -> bool:
        ids = "X-DiffEditor-Client"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        long_edit = json.dumps(payload(steps=1000)).encode()
        with (
            httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT_S) as http,
            http.stream("POST", EDITS_PATH, content=long_edit, headers={**auth, ids: "a"}) as held,
        ):
            lines = held.iter_lines()
            job = json.loads(next(lines))["id"]
            made_up = self.post(long_edit, {**auth, ids: "made-up"}).status_code
            transport = httpx.HTTPTransport(local_address="127.0.0.2")
            with (
                httpx.Client(transport=transport, base_url=self.url, timeout=60) as other,
                other.stream(
                    "POST", EDITS_PATH, content=long_edit, headers={**auth, ids: "a"}
                ) as o,
            ):
                elsewhere = o.status_code
            http.post(f"{EDITS_PATH}/{job}/cancel", headers=auth)
            kinds = [json.loads(line)["type"] for line in lines if line]
        return made_up == 429 and elsewhere == 200 and kinds[-1] == "cancelled"

    def cases(self, model: Path, work: Path) -> dict[str, Case]:
        no_token = {
            p: (lambda p=p: httpx.get(self.url + p, timeout=60).status_code == 401)
            for p in ("/-/routes", "/-/healthz", INFO_PATH, "/docs", "/nothing")
        }
        wrong = (
            "Bearer",
            "bearer wrong",
            f"Basic {TOKEN}",
            f"Bearer {TOKEN}x",
            f"Bearer  {TOKEN[:-1]}",
        )
        cases: dict[str, Case] = {
            "Ray's ports: loopback, or refuse calls without Ray's token": self.listeners_private,
            **{f"{p} without the token: 401": check for p, check in no_token.items()},
            **{
                f"/-/routes with Authorization {w!r}: 401": (
                    lambda w=w: (
                        httpx.get(
                            self.url + "/-/routes", headers={"Authorization": w}, timeout=60
                        ).status_code
                        == 401
                    )
                )
                for w in wrong
            },
            "1 slow-header connection: 408": lambda: self.slow_headers(1),
            "20 slow-header connections: 408 each": lambda: self.slow_headers(20),
            "slow headers of a second request on a kept-alive connection: 408": (
                self.slow_second_request
            ),
            "Content-Length 1000, 8 bytes sent: 408": lambda: (
                self.raw(self.head("Content-Length: 1000\r\n\r\n") + b"12345678")[0] == 408
            ),
            "chunked upload trickling: 408": lambda: (
                self.raw(self.head("Transfer-Encoding: chunked\r\n\r\n"), trickle=b"4\r\n[[[[\r\n")[
                    0
                ]
                == 408
            ),
            "declared Content-Length past the limit: 413": lambda: (
                self.raw(self.head("Content-Length: 999999999\r\n\r\n"))[0] == 413
            ),
            "'[' x 200000: 400 JSON": lambda: self.refused(b"[" * 200_000, 400, "not JSON"),
            "'{' x 100000: 400 JSON": lambda: self.refused(b"{" * 100_000, 400, "not JSON"),
            "invalid UTF-8: 400": lambda: self.refused(b"\xff\xfe\x00", 400, "not JSON"),
            "a JSON list: 400": lambda: self.refused(b"[1, 2]", 400, "JSON object"),
            "NaN seed: 400": lambda: self.refused(b'{"task": "move", "seed": NaN}', 400, "seed"),
            "previews.mode bogus: 400": lambda: self.refused(
                payload(previews={"mode": "bogus"}), 400, "previews.mode"
            ),
            "previews.max_side text: 400": lambda: self.refused(
                payload(previews={"max_side": "x"}), 400, "previews.max_side"
            ),
            "previews.share 2: 400": lambda: self.refused(
                payload(previews={"share": 2}), 400, "share"
            ),
            **{
                f"resolution {r!r}: 4xx": (
                    lambda r=r: self.post(payload(resolution=r)).status_code in (400, 422)
                )
                for r in (99999, -1, 0, "big", 1.5, [64])
            },
            **{
                f"overrides {o!r}: 4xx": (
                    lambda o=o: self.post(payload(overrides=o)).status_code in (400, 422)
                )
                for o in (
                    {"bogus": 1},
                    {"bank_mode": 1},
                    {"eta_in": 7},
                    {"cfg_scale": {"a": 1}},
                    {"ip_from": 1.5},
                    [],
                    "x",
                    {"renoise": "ddim"},
                )
            },
            "15000x15000 mask PNG: 422 before decoding": lambda: self.refused(
                with_image("mask", bomb_png(15000, 15000)), 422, "is 15000x15000"
            ),
            "15000x15000 mask JPEG: 422 before decoding": lambda: self.refused(
                with_image("mask", jpeg(15000, 15000)), 422, "is 15000x15000"
            ),
            "mask 65x97 (turned, off by one): 422": lambda: self.refused(
                with_image("mask", jpeg(65, 97)), 422, "must have the image's size"
            ),
            "10 GP image header: 413": lambda: self.refused(
                with_image("image", bomb_png(100_000, 100_000)), 413, "megapixels"
            ),
            "400x300 image past --max-megapixels: 413": lambda: self.refused(
                with_image("image", jpeg(400, 300)), 413, "megapixels"
            ),
            "100000 drag pairs: 413": lambda: self.refused(
                {
                    **{k: v for k, v in payload().items() if k not in ("offset", "scale")},
                    "task": "drag",
                    "pairs": [[[1, 1], [2, 2]]] * 100_000,
                },
                413,
                "pairs",
            ),
            "100000-character prompt: 413": lambda: self.refused(
                payload(prompt="x" * 100_000), 413, "characters"
            ),
            "seed 10**40: 422": lambda: self.refused(payload(seed=10**40), 422, "seed"),
            "unknown field: 400": lambda: self.refused(payload(evil=1), 400, "Unknown field"),
            "no 'Unexpected error' for a broken PNG": lambda: (
                "Unexpected" not in self.post(with_image("image", b"\x89PNG\r\n\x1a\nbroken")).text
            ),
            "made-up client ids share the slots; another address has its own": self.queue_key,
            "edit --server, resolution 99999: exit 2": lambda: edit_exit(self.url, model, work),
            "token file 0644: serve exits 2": lambda: token_file_refused(model, work),
            **{
                f"serve {flag} {value}: exit 2, one line": (
                    lambda flag=flag, value=value: serve_refused(model, flag, value)
                )
                for flag, value in (
                    ("--max-upload-mb", "nan"),
                    ("--max-upload-mb", "-1"),
                    ("--max-megapixels", "-2"),
                    ("--queue-limit", "-1"),
                    ("--body-timeout", "inf"),
                    ("--header-timeout", "0"),
                )
            },
        }
        return cases


def edit_exit(url: str, model: Path, work: Path) -> bool:
    image, mask = square_scene(96, 64)
    image.to_pil().save(work / "in.png")
    Image.fromarray(mask).save(work / "mask.png")
    args = ["edit", "move", "--image", str(work / "in.png"), "--mask", str(work / "mask.png")]
    args += [
        "--offset",
        "8,0",
        "--resolution",
        "99999",
        "--server",
        url,
        "--out",
        str(work / "o.png"),
    ]
    done = subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DIFFEDITOR_TOKEN": TOKEN},
    )
    return done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


def token_file_refused(model: Path, work: Path) -> bool:
    config = work / "config"
    token = config / "DiffEditor" / "server-token"
    token.parent.mkdir(parents=True, exist_ok=True)
    token.write_text("secret\n")
    token.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k != "DIFFEDITOR_TOKEN"}
    env["XDG_CONFIG_HOME"] = str(config)
    done = subprocess.run(
        [*CLI, "serve", "--model", str(model), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    return done.returncode == 2 and "0644" in done.stderr and len(done.stderr.splitlines()) == 1


def serve_refused(model: Path, flag: str, value: str) -> bool:
    done = subprocess.run(
        [*CLI, "serve", "--model", str(model), flag, value],
        capture_output=True,
        text=True,
        timeout=120,
    )
    err = done.stderr.strip()
    return done.returncode == 2 and len(err.splitlines()) == 1 and "Error" not in err


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model = write_tiny_model(work / "tiny")
        args = [
            "--model",
            str(model),
            "--device",
            "cpu",
            "--replicas",
            "1",
            "--queue-limit",
            "1",
            "--max-megapixels",
            "0.1",
            "--max-upload-mb",
            "4",
            "--header-timeout",
            "2",
            "--body-timeout",
            str(BODY_TIMEOUT_S),
            "--port",
            str(free_port()),
        ]
        with ServerProcess(args, TOKEN, work / "serve.log") as server:
            bench = Bench(server.url, server.process.pid)
            passed = failed = 0
            for name, case in bench.cases(model, work).items():
                try:
                    ok = case()
                except Exception as error:  # a case that crashes is a failure, with its reason
                    ok = False
                    name += f" ({type(error).__name__}: {error})"
                print(f"{'PASS' if ok else 'FAIL'}  {name}", flush=True)
                passed, failed = passed + ok, failed + (not ok)
    print(f"{passed} passed, {failed} failed of {passed + failed} cases")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
