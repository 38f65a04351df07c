"""The door of Serve's HTTP proxy: what every connection meets before Serve routes it.

Serve answers some paths itself (`/-/routes`, `/-/healthz`) before any deployment sees the
request, and its uvicorn waits for headers and bodies without end. Serve calls
`proxy_middlewares` in its proxy process (RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH, set
by `config.serve_environment`), so the door there
- asks every request, on every path, for the token (401);
- gives every request HEADER_TIMEOUT seconds for its headers (the first from the
  connection's start, a later one on a kept-alive connection from its first byte), then
  answers 408 and closes the connection;
- reads a body whole before the request goes on, within the body time-out (408) and the
  upload limit (413): a slow or short upload never reaches, or holds, an editor.

Ray-free and Qt-free; the proxy process imports it by name.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from diffeditor_app.server.auth import TOKEN_ENV, bearer_matches
from diffeditor_app.server.config import LIMITS_ENV
from diffeditor_app.server.limits import Limits

TOKEN_SENTENCE = "This server needs its token: send 'Authorization: Bearer <DIFFEDITOR_TOKEN>'."

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestTimeout(Exception):
    """The body did not arrive within the body time-out."""


class BodyTooLarge(Exception):
    """The body passed the upload limit."""


def proxy_middlewares() -> list[Any]:
    """Serve's proxy callback: the door, with the token and limits of its environment."""
    from starlette.middleware import Middleware

    limits = Limits(**json.loads(os.environ[LIMITS_ENV]))
    install_header_deadline(limits)
    return [Middleware(Door, token=os.environ[TOKEN_ENV], limits=limits)]


async def refuse(send: Send, status: int, sentence: str) -> None:
    body = json.dumps({"error": sentence}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if status in (408, 413):
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Door:
    """Token on every path, and the body read whole within its limits (ASGI middleware)."""

    def __init__(self, app: App, token: str, limits: Limits) -> None:
        self.app = app
        self.token = token
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value for name, value in scope["headers"]}
        authorization = headers.get("authorization", b"").decode("latin-1")
        if not bearer_matches(authorization, self.token):
            await refuse(send, 401, TOKEN_SENTENCE)
            return
        try:
            body = await self.read_body(receive, headers.get("content-length", b""))
        except RequestTimeout:
            await refuse(send, 408, self.limits.body_sentence())
            return
        except BodyTooLarge as error:
            await refuse(send, 413, self.limits.upload_sentence(int(str(error))))
            return
        await self.app(scope, replay(body, receive), send)

    async def read_body(self, receive: Receive, declared: bytes) -> bytes:
        """The whole body within the body time-out and the upload limit."""
        limit = self.limits.max_upload_bytes
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(int(declared))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_timeout_s
        body = bytearray()
        while True:
            left = deadline - loop.time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.0))
            except asyncio.TimeoutError:
                raise RequestTimeout from None
            if message["type"] == "http.disconnect":
                return bytes(body)
            body += message.get("body", b"")
            if len(body) > limit:
                raise BodyTooLarge(len(body))
            if not message.get("more_body", False):
                return bytes(body)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` once, then waits on the connection (for its end)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def install_header_deadline(limits: Limits) -> None:
    """Give every request of this process's uvicorn `header_timeout_s` to complete its
    headers; past it the connection gets 408 and is closed. The first request's time
    starts when the connection opens; a later one's on a kept-alive connection when its
    first byte arrives (uvicorn's keep-alive time-out closes an idle connection, but stops
    counting at that byte). uvicorn has no such time-out of its own, and Serve builds its
    server without a hook, so this wraps the protocol's `connection_made` and
    `data_received` (in Serve's proxy process only)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    if getattr(AutoHTTPProtocol, "header_deadline_s", None) is not None:
        return  # installed already: one door per proxy process
    opened = AutoHTTPProtocol.connection_made
    received = AutoHTTPProtocol.data_received
    body = json.dumps({"error": limits.header_sentence()}).encode()
    answer = (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    def expire(protocol: Any, answered: Any) -> None:
        """408 unless a request's headers arrived since the deadline was set: the protocol
        starts a new cycle for each request whose headers are complete."""
        transport = protocol.transport
        if protocol.cycle is answered and not transport.is_closing():
            transport.write(answer)
            transport.close()

    def connection_made(protocol: Any, transport: asyncio.Transport) -> None:
        opened(protocol, transport)
        protocol.header_deadline_for = None  # the cycle whose successor's deadline is set
        protocol.loop.call_later(AutoHTTPProtocol.header_deadline_s, expire, protocol, None)

    def data_received(protocol: Any, data: bytes) -> None:
        answered = protocol.cycle
        if (
            answered is not None
            and answered.response_complete
            and protocol.header_deadline_for is not answered
        ):  # the first byte of a request after an answered one
            protocol.header_deadline_for = answered
            deadline_s = AutoHTTPProtocol.header_deadline_s
            protocol.loop.call_later(deadline_s, expire, protocol, answered)
        received(protocol, data)

    AutoHTTPProtocol.header_deadline_s = limits.header_timeout_s
    AutoHTTPProtocol.connection_made = connection_made
    AutoHTTPProtocol.data_received = data_received
