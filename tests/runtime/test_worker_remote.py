"""The worker with a server address: the job goes to a RemoteEditor (here a scripted one)
with the same messages, no local model is loaded, and a dropped server is one sentence."""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np
import pytest

from diffeditor_app.engine import EditResult, ModelSpec, StepInfo
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.runtime.worker import ModelManager, WorkerClient
from diffeditor_app.server.client import ServerAddress, ServerUnavailable

TIMEOUT_MS = 30_000
HOLD_POLLS = 3000  # 30 s of 10 ms polls: a held job waits at most this long for its cancel
ADDRESS = ServerAddress("http://127.0.0.1:8765", "secret")


def move(steps: int = 3) -> MoveEdit:
    image, mask = square_scene(96, 64)
    return MoveEdit(image=image, mask=mask, offset=(8, 0), steps=steps)


class ScriptedRemote:
    """Plays prepare, steps and a result, or fails after the first step, or (token "holds")
    waits after the first step until the job is cancelled, as a long server job would."""

    made: ClassVar[list[ScriptedRemote]] = []

    def __init__(self, address: ServerAddress) -> None:
        self.address = address
        self.fail = address.token == "drops"
        self.hold = address.token == "holds"
        self.closed = False
        ScriptedRemote.made.append(self)

    def close(self) -> None:
        self.closed = True

    def edit(self, request, on_step=None, on_prepare=None, interrupt=None, preview_budget=None):
        on_prepare(2, 2)
        for step in range(request.steps):
            interrupt()
            on_step(StepInfo(step, request.steps, np.zeros((8, 8, 3), np.uint8)))
            if self.fail:
                raise ServerUnavailable("The connection to the server was lost during the edit.")
            if self.hold:
                self._wait_for_cancel(interrupt)
        image, _ = square_scene(96, 64)
        return EditResult(
            image=image.to_pil(), raw=False, prepare_s=0.0, edit_s=0.0, unet_forward=1,
            unet_backward=0, prepare_unet_forward=0, prepared_from_cache=True, seed=42,
            steps=request.steps, resolution=64, working_size=(64, 48), device="cpu",
            dtype="float32", schedule={},
        )  # fmt: skip

    @staticmethod
    def _wait_for_cancel(interrupt) -> None:
        """Poll the worker's interrupt, which raises once the job is cancelled; bounded, so
        a cancel that never arrives ends in the test's own time-out, not a hang."""
        for _ in range(HOLD_POLLS):
            interrupt()
            time.sleep(0.01)


def no_local_model(spec):
    raise AssertionError("a server job loaded a local model")


@pytest.fixture
def client(qapp):
    ScriptedRemote.made.clear()
    client = WorkerClient(models=ModelManager(loader=no_local_model))
    client.worker._remote = ScriptedRemote
    yield client
    client.shutdown()


def test_a_server_job_sends_the_local_messages(client, qtbot):
    messages = []
    client.preparing.connect(lambda job, done, total: messages.append(("preparing", done)))
    client.progress.connect(lambda job, step, total, left: messages.append(("progress", step)))
    client.preview.connect(lambda job, rgb: messages.append(("preview", rgb.shape)))
    with qtbot.waitSignal(client.finished, timeout=TIMEOUT_MS) as done:
        client.submit(move(), ModelSpec("unused"), server=ADDRESS)
    assert isinstance(done.args[1], EditResult)
    assert [m for m in messages if m[0] == "progress"] == [("progress", s) for s in (1, 2, 3)]
    assert ("preparing", 2) in messages and ("preview", (8, 8, 3)) in messages
    with qtbot.waitSignal(client.finished, timeout=TIMEOUT_MS):
        client.submit(move(), ModelSpec("unused"), server=ADDRESS)
    assert len(ScriptedRemote.made) == 1  # one connection while the address stays


def test_a_dropped_server_fails_with_its_sentence_and_another_address_reconnects(client, qtbot):
    with qtbot.waitSignal(client.failed, timeout=TIMEOUT_MS) as failed:
        client.submit(move(), ModelSpec("unused"), server=ServerAddress(ADDRESS.url, "drops"))
    assert failed.args[1] == "The connection to the server was lost during the edit."
    with qtbot.waitSignal(client.finished, timeout=TIMEOUT_MS):
        client.submit(move(), ModelSpec("unused"), server=ADDRESS)
    assert [r.closed for r in ScriptedRemote.made] == [True, False]


def test_cancel_reaches_a_server_job(client, qtbot):
    def cancel_at_first_preview(job, rgb) -> None:
        client.cancel()

    client.preview.connect(cancel_at_first_preview)
    with qtbot.waitSignal(client.cancelled, timeout=TIMEOUT_MS):
        client.submit(move(), ModelSpec("unused"), server=ServerAddress(ADDRESS.url, "holds"))
