"""The Ray Serve application: a FastAPI gateway in front of editor replicas.

    HTTP -> Gateway (1 replica, no CPU reserved)      token, limits, parsing, queue count,
             |                                        job ids, cancel, heartbeats
             | handle.options(multiplexed_model_id=<image hash>, stream=True)
             v
          EditorReplica (one per GPU, or CPU ones)    one Editor, one edit at a time

Routing by the image's hash with Serve's model multiplexing sends every edit of an image to
the replica that prepared it, where the engine's prepare cache holds its state. A replica
runs its edit in one worker thread and streams the engine's callbacks as events; a
cancelled Ray call sets the flag the engine's `interrupt` reads before every UNet call.
The gateway decodes a request's version-1 JSON and checks it, once; the replica gets that
checked request (our decoder built it: nothing a client sent is unpickled), so nothing is
decoded or validated twice, and nothing from a request is written to disk.
"""

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import RequestCancelledError, TaskCancelledError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from diffeditor_app.engine.editor import Editor, StepInfo
from diffeditor_app.engine.errors import EditCancelled, InvalidInput, error_sentence
from diffeditor_app.engine.models.loading import load_model
from diffeditor_app.engine.models.model import ModelProfile, ModelSpec
from diffeditor_app.engine.outcomes import outcome_of
from diffeditor_app.engine.requests import EditRequest
from diffeditor_app.server.api import (
    API_VERSION,
    CLIENT_HEADER,
    EDITS_PATH,
    INFO_PATH,
    NDJSON,
    TERMINAL,
    PreviewOptions,
    TooLarge,
    check_for_model,
    decode_body,
    encode_preview,
    encode_result,
    image_key,
    status_for,
    task_defaults,
)
from diffeditor_app.server.auth import bearer_matches
from diffeditor_app.server.config import ServerConfig
from diffeditor_app.server.door import TOKEN_SENTENCE
from diffeditor_app.server.limits import ClientSlots, Limits, client_key

log = logging.getLogger("diffeditor_app.server")

HEARTBEAT_S = 1.0  # a line at least this often, so clients check cancel and notice a drop
IMAGES_PER_REPLICA = 4  # prepared images a replica keeps (multiplexed ids and the cache)
REPLICA_CONCURRENCY = 16  # calls a replica accepts at once; edits queue in its one thread
GATEWAY_CONCURRENCY = 256  # streams the gateway follows at once
RESTART_WAIT_S = 90.0  # how long an edit that has not started waits for a replica to return
RETRY_PAUSE_S = 1.0
QUIET_ENV = {  # the replicas' library logging, as the CLI keeps it
    "TRANSFORMERS_VERBOSITY": "error",
    "DIFFUSERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}
LOST_SENTENCE = (
    "The server's editor stopped during the edit (its process ended); nothing was changed, "
    "run the edit again."
)
UNEXPECTED_SENTENCE = (
    "The server failed on this edit for a reason of its own; its log has the details, and "
    "nothing was changed."
)
REPLICA_GONE = (RayActorError, RequestCancelledError, TaskCancelledError)


UNREADABLE_SENTENCE = "The server could not read this request; check that it is a version-1 edit."


def line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, separators=(",", ":")) + "\n").encode()


def refusal(status: int, sentence: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": sentence}, status_code=status, headers=headers)


# -- the editor replica -------------------------------------------------------------------


class EditorReplica:
    """One loaded model and its Editor; edits run one at a time in a worker thread."""

    def __init__(self, spec: ModelSpec) -> None:
        self.source = spec.source
        self.editor = Editor(load_model(spec), cache_size=IMAGES_PER_REPLICA)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffeditor-edit")
        self.pid = os.getpid()
        self.name = serve.get_replica_context().replica_id.unique_id

    @serve.multiplexed(max_num_models_per_replica=IMAGES_PER_REPLICA)
    async def image_slot(self, key: str) -> str:
        """Serve's multiplexing keeps track of which replica holds which image; the state
        itself is the editor's prepare cache, sized alike."""
        return key

    async def describe(self) -> dict[str, Any]:
        m = self.editor.model
        profile = m.profile
        return {
            "model": self.source,
            "device": str(m.device),
            "dtype": str(m.dtype).removeprefix("torch."),
            "default_resolution": self.editor.default_resolution(),
            "resolution_range": list(profile.resolution_range),
            "image_prompt": m.image_prompt is not None,
            "profile": profile.to_json(),
            "task_defaults": task_defaults(profile),  # what an edit's Advanced fields show
        }

    async def run(
        self, job: str, request: EditRequest, previews: PreviewOptions
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream one edit's events; a cancelled call stops the engine within a UNet call.
        The gateway checked `request` (its `checked()` is not run again)."""
        await self.image_slot(serve.get_multiplexed_model_id())
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def emit(event: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        loop.run_in_executor(self.executor, self._edit, request, previews, emit, stop)
        try:
            while True:
                event = await events.get()
                yield event
                if event["type"] in TERMINAL:
                    return
        finally:
            stop.set()  # a cancelled or abandoned call: the engine stops at its next UNet call

    def _edit(
        self,
        request: EditRequest,
        previews: PreviewOptions,
        emit: Callable[[dict[str, Any]], None],
        stop: threading.Event,
    ) -> None:
        def interrupt() -> None:
            if stop.is_set():
                raise EditCancelled("The edit was cancelled.")

        def on_prepare(done: int, total: int) -> None:
            emit({"type": "preparing", "done": done, "total": total})

        def on_step(info: StepInfo) -> None:
            preview = None
            if info.preview is not None and previews.mode != "none":
                preview = encode_preview(info.preview, previews.max_side)
            emit({"type": "step", "step": info.step, "total": info.total, "preview": preview})

        if stop.is_set():
            return
        emit({"type": "started", "replica": self.name, "pid": self.pid})
        outcome = outcome_of(
            lambda: self.editor.edit(
                request,
                on_step=on_step,
                on_prepare=on_prepare,
                interrupt=interrupt,
                preview_budget=previews.budget(),
            ),
            "An edit",
            log,
            unexpected=UNEXPECTED_SENTENCE,
        )
        outcome.deliver(
            lambda result: emit({"type": "finished", "result": encode_result(result)}),
            lambda sentence: emit(
                {"type": "failed", "message": sentence, "bad_input": outcome.bad_input}
            ),
            lambda: emit({"type": "cancelled"}),
        )


# -- the HTTP gateway ----------------------------------------------------------------------

api = FastAPI(
    title="DiffEditor server",
    version=str(API_VERSION),
    docs_url=None,  # nothing is served without the token
    redoc_url=None,
    openapi_url=None,
)


async def read_body(request: Request, limits: Limits) -> bytes:
    """The body, refused (TooLarge) as soon as it passes the upload limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_upload_bytes:
        raise TooLarge(limits.upload_sentence(int(declared)))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limits.max_upload_bytes:
            raise TooLarge(limits.upload_sentence(len(body)))
    return bytes(body)


async def with_heartbeats(
    stream: DeploymentResponseGenerator,
) -> AsyncIterator[dict[str, Any]]:
    """The stream's events, with a heartbeat for every HEARTBEAT_S without one."""
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_S)
            if not done:
                yield {"type": "heartbeat"}
                continue
            finished, pending = pending, None
            try:
                event = finished.result()
            except StopAsyncIteration:
                return
            yield event
    finally:
        if pending is not None:
            pending.cancel()


@serve.ingress(api)
class Gateway:
    """Token, limits and job ids in front of the editor replicas."""

    def __init__(self, editor: DeploymentHandle, token: str, limits: Limits, replicas: int) -> None:
        self.editor = editor
        self.token = token
        self.limits = limits
        self.replicas = replicas
        self.slots = ClientSlots(limits.queue_per_client)
        self.running: dict[str, DeploymentResponseGenerator] = {}
        self.cancelled: set[str] = set()
        self.profile: ModelProfile | None = None  # the replicas' model's, asked once

    def _unauthorised(self, request: Request) -> JSONResponse | None:
        if bearer_matches(request.headers.get("authorization"), self.token):
            return None
        return refusal(401, TOKEN_SENTENCE)

    async def _model_profile(self) -> ModelProfile:
        if self.profile is None:
            described = (await self.editor.describe.remote())["profile"]
            self.profile = ModelProfile(
                feature_blocks=tuple(described["feature_blocks"]),
                default_resolution=described["default_resolution"],
                resolution_range=tuple(described["resolution_range"]),
                size_multiple=described["size_multiple"],
                task_overrides=described["task_overrides"],
            )
        return self.profile

    @api.get(INFO_PATH)
    async def info(self, request: Request) -> JSONResponse:
        """The model, the replicas and the limits."""
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        model = await self.editor.describe.remote()
        return JSONResponse(
            {
                "api": API_VERSION,
                "replicas": self.replicas,
                "limits": self.limits.describe(),
                **model,
            }
        )

    @api.post(EDITS_PATH, response_model=None)
    async def submit(self, request: Request) -> JSONResponse | StreamingResponse:
        """Check everything that can be checked here, then stream the edit's events: a
        request is refused (4xx, one sentence) before it is queued, never after."""
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        client = client_key(self.token, getattr(request.client, "host", None) or "?")
        try:
            body = await read_body(request, self.limits)
            profile = await self._model_profile()
            edit, previews = await asyncio.to_thread(self._checked, body, profile)  # slow
        except InvalidInput as error:
            return refusal(status_for(error), error_sentence(error))
        except Exception:
            log.exception("A request could not be read")
            return refusal(400, UNREADABLE_SENTENCE)
        if not self.slots.acquire(client):
            return refusal(429, self.limits.queue_sentence())
        job = uuid.uuid4().hex
        log.info("Edit %s for %s (client id %r)", job, client, request.headers.get(CLIENT_HEADER))
        events = self._follow(job, client, edit, previews)
        return StreamingResponse(events, media_type=NDJSON)

    def _checked(self, body: bytes, profile: ModelProfile) -> tuple[EditRequest, PreviewOptions]:
        """The validated request and its preview options, or InvalidInput with the CLI's
        sentence."""
        edit, previews = decode_body(body, self.limits.max_pixels)
        check_for_model(edit, profile)
        return edit, previews

    @api.post(EDITS_PATH + "/{job}/cancel")
    async def cancel(self, job: str, request: Request) -> JSONResponse:
        """Stop a queued or running edit; its stream ends with `cancelled`."""
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        stream = self.running.get(job)
        if stream is None:
            return refusal(404, "There is no running edit with that id.")
        self.cancelled.add(job)
        stream.cancel()
        return JSONResponse({"id": job, "cancelling": True})

    async def _follow(
        self, job: str, client: str, edit: EditRequest, previews: PreviewOptions
    ) -> AsyncIterator[bytes]:
        ended = False
        try:
            yield line({"type": "accepted", "id": job})
            yield line({"type": "queued"})
            async for event in self._attempts(job, edit, previews):
                ended = event["type"] in TERMINAL
                yield line(event)
        finally:
            self.slots.release(client)
            stream = self.running.pop(job, None)
            self.cancelled.discard(job)
            if stream is not None and not ended:
                stream.cancel()  # the client went away: free the replica

    async def _attempts(
        self, job: str, edit: EditRequest, previews: PreviewOptions
    ) -> AsyncIterator[dict[str, Any]]:
        """Run the edit; a replica lost before the edit started (Ray restarts it) is waited
        for up to RESTART_WAIT_S, one lost during the edit is a failure."""
        deadline = time.monotonic() + RESTART_WAIT_S
        handle = self.editor.options(multiplexed_model_id=image_key(edit), stream=True)
        while True:
            started = False
            stream = handle.run.remote(job, edit, previews)
            self.running[job] = stream
            try:
                async for event in with_heartbeats(stream):
                    started = started or event["type"] == "started"
                    yield event
                    if event["type"] in TERMINAL:
                        return
            except REPLICA_GONE:
                if job in self.cancelled:
                    yield {"type": "cancelled"}
                    return
                if started or time.monotonic() > deadline:
                    yield {"type": "failed", "message": LOST_SENTENCE, "bad_input": False}
                    return
                log.warning("A replica was lost before edit %s started; trying again", job)
                with contextlib.suppress(Exception):
                    stream.cancel()
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            if job in self.cancelled:
                yield {"type": "cancelled"}
            else:
                yield {"type": "failed", "message": LOST_SENTENCE, "bad_input": False}
            return


def build_app(config: ServerConfig, token: str, gpus: int, replicas: int) -> serve.Application:
    """The application for `serve.run`: `replicas` editor replicas, each on its own GPU
    when the cluster has `gpus`, else each on one CPU."""
    resources = {"num_gpus": 1} if gpus else {"num_cpus": 1}
    editor = serve.deployment(
        EditorReplica,
        name="editor",
        num_replicas=replicas,
        max_ongoing_requests=REPLICA_CONCURRENCY,
        ray_actor_options={**resources, "runtime_env": {"env_vars": QUIET_ENV}},
    ).bind(config.spec())
    gateway = serve.deployment(
        Gateway,
        name="gateway",
        num_replicas=1,  # job ids and queue counts live here
        max_ongoing_requests=GATEWAY_CONCURRENCY,
        ray_actor_options={"num_cpus": 0},
    )
    return gateway.bind(editor, token, config.limits, replicas)
