"""The edit worker: tagged messages delivered in the GUI thread, one preview per step, cancel
within a step, failures as sentences, stale jobs dropped, one model at a time, clean shutdown.

Most tests run the tiny random model; a scripted fake editor covers what the real one cannot
stage on demand (a slow model load, an unexpected exception)."""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QObject, QThread, Slot
from PySide6.QtWidgets import QApplication

from diffeditor_app.engine import EditCancelled, EditResult, ModelSpec, StepInfo
from diffeditor_app.engine.errors import error_sentence
from diffeditor_app.engine.models.testing import square_scene, write_tiny_model
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.runtime.jobs import CancelFlags, JobIds, StepClock
from diffeditor_app.runtime.worker import ModelManager, WorkerClient, load_editor

TIMEOUT_MS = 60_000
WIDTH, HEIGHT = 96, 64  # square_scene()'s size


def move(steps: int = 4, offset=(8, 0)) -> MoveEdit:
    image, mask = square_scene(WIDTH, HEIGHT)
    return MoveEdit(image=image, mask=mask, offset=offset, steps=steps)


@pytest.fixture
def spec(tiny_model_dir) -> ModelSpec:
    return ModelSpec(str(tiny_model_dir), device="cpu")


@pytest.fixture
def make_client(qapp):
    """WorkerClient factory; every client is shut down after the test."""
    clients = []

    def make(models: ModelManager | None = None) -> WorkerClient:
        clients.append(WorkerClient(models=models))
        return clients[-1]

    yield make
    for client in clients:
        client.shutdown()


@pytest.fixture
def client(make_client) -> WorkerClient:
    return make_client()


class Receiver(QObject):
    """A GUI-thread QObject recording every message, and the thread that delivered it."""

    def __init__(self, client: WorkerClient) -> None:
        super().__init__()
        self.client = client
        self.messages: list[tuple] = []
        self.threads: list[int] = []
        self.qthreads: list[QThread] = []
        self.cancel_after_previews: int | None = None
        for name in ("loading", "preparing", "progress", "preview"):
            getattr(client, name).connect(getattr(self, f"on_{name}"))
        for name in ("finished", "failed", "cancelled"):
            getattr(client, name).connect(getattr(self, f"on_{name}"))

    def _record(self, *message) -> None:
        self.threads.append(threading.get_ident())
        self.qthreads.append(QThread.currentThread())
        self.messages.append(message)

    def of(self, kind: str) -> list[tuple]:
        return [m[1:] for m in self.messages if m[0] == kind]

    def jobs(self) -> set[int]:
        return {m[1] for m in self.messages}

    @Slot(int, str)
    def on_loading(self, job, message) -> None:
        self._record("loading", job, message)

    @Slot(int, int, int)
    def on_preparing(self, job, done, total) -> None:
        self._record("preparing", job, done, total)

    @Slot(int, int, int, float)
    def on_progress(self, job, step, total, remaining) -> None:
        self._record("progress", job, step, total, remaining)

    @Slot(int, object)
    def on_preview(self, job, preview) -> None:
        self._record("preview", job, preview)
        if self.cancel_after_previews == len(self.of("preview")):
            self.client.cancel()

    @Slot(int, object)
    def on_finished(self, job, result) -> None:
        self._record("finished", job, result, self.client.busy)

    @Slot(int, str)
    def on_failed(self, job, message) -> None:
        self._record("failed", job, message, self.client.busy)

    @Slot(int)
    def on_cancelled(self, job) -> None:
        self._record("cancelled", job, self.client.busy)


def run_to_end(qtbot, client: WorkerClient, request, spec: ModelSpec, signal: str = "finished"):
    with qtbot.waitSignal(getattr(client, signal), timeout=TIMEOUT_MS) as blocker:
        job = client.submit(request, spec)
    assert blocker.args[0] == job
    return job, blocker.args


# -- with the tiny model ----------------------------------------------------------------------


def test_an_edit_streams_one_preview_per_step_in_the_gui_thread(client, qtbot, spec):
    receiver = Receiver(client)
    steps = 5
    job, (_, result) = run_to_end(qtbot, client, move(steps), spec)

    previews = [p for j, p in receiver.of("preview")]
    assert len(previews) == steps
    for preview in previews:
        assert isinstance(preview, np.ndarray) and preview.dtype == np.uint8
        assert preview.ndim == 3 and preview.shape[2] == 3
    progress = receiver.of("progress")
    assert [(step, total) for _, step, total, _ in progress] == [(s, steps) for s in range(1, 6)]
    assert all(remaining >= 0 for *_, remaining in progress) and progress[-1][3] == 0.0
    assert receiver.of("preparing")[-1][1:] == (steps, steps)
    assert len(receiver.of("loading")) == 1 and spec.source in receiver.of("loading")[0][1]
    assert isinstance(result, EditResult) and result.image.size == (WIDTH, HEIGHT)
    assert receiver.of("finished") == [(job, result, False)]  # busy is off for receivers
    assert receiver.jobs() == {job}
    main = QApplication.instance().thread()
    assert set(receiver.threads) == {threading.main_thread().ident}
    assert all(t is main for t in receiver.qthreads)

    second, _ = run_to_end(qtbot, client, move(steps), spec)
    assert second > job
    assert len(receiver.of("loading")) == 1  # the same spec reuses the loaded model
    assert len(receiver.of("finished")) == 2 and not client.busy


def test_cancel_stops_within_a_step_and_the_worker_takes_the_next_job(client, qtbot, spec):
    receiver = Receiver(client)
    receiver.cancel_after_previews = 2
    job, _ = run_to_end(qtbot, client, move(steps=30), spec, signal="cancelled")
    assert receiver.of("cancelled") == [(job, False)]
    assert receiver.of("finished") == []
    assert 2 <= len(receiver.of("preview")) < 30  # stopped long before the end
    assert not client.busy

    receiver.cancel_after_previews = None
    second, (_, result) = run_to_end(qtbot, client, move(steps=4), spec)
    assert result.image.size == (WIDTH, HEIGHT)
    assert [j for j, *_ in receiver.of("finished")] == [second]


def test_bad_input_and_missing_weights_fail_as_sentences_and_the_worker_survives(
    client, qtbot, spec, tmp_path
):
    receiver = Receiver(client)
    _, (_, message) = run_to_end(qtbot, client, move(offset=(500, 0)), spec, "failed")
    assert "outside the image" in message and "\n" not in message
    assert not client.busy

    missing = ModelSpec(str(tmp_path / "nowhere"), device="cpu")
    _, (_, message) = run_to_end(qtbot, client, move(), missing, "failed")
    assert "does not exist" in message and "\n" not in message

    _, (_, result) = run_to_end(qtbot, client, move(), spec)
    assert result.image.size == (WIDTH, HEIGHT)
    assert [kind for kind, *_ in receiver.messages if kind in ("failed", "finished")] == [
        "failed",
        "failed",
        "finished",
    ]


def test_a_newer_job_silences_the_older_one(client, qtbot, spec):
    receiver = Receiver(client)
    first = client.submit(move(steps=20), spec)
    with qtbot.waitSignal(client.finished, timeout=TIMEOUT_MS):
        second = client.submit(move(steps=3), spec)
    assert first != second
    assert receiver.jobs() == {second}
    assert len(receiver.of("preview")) == 3
    # A late message of the first job (already queued when the second began) is dropped too.
    client._on_preview(first, np.zeros((8, 8, 3), np.uint8))
    client._on_finished(first, None)
    assert receiver.jobs() == {second}


def test_switching_models_frees_the_first_before_loading_the_second(
    make_client, qtbot, spec, tmp_path
):
    held_at_load = []  # was an earlier editor still alive when a model started loading?
    editors: list[weakref.ref] = []

    def loader(spec):  # no gc.collect(): closing the editor frees its model by refcount
        held_at_load.append(any(ref() is not None for ref in editors))
        editor = load_editor(spec)
        editors.append(weakref.ref(editor))
        return editor

    client = make_client(ModelManager(loader))
    receiver = Receiver(client)
    run_to_end(qtbot, client, move(), spec)
    first_unet = weakref.ref(client.worker.models.editor.model.unet)

    other = ModelSpec(str(write_tiny_model(tmp_path / "other", seed=1)), device="cpu")
    run_to_end(qtbot, client, move(), other)
    assert len(receiver.of("loading")) == 2
    assert client.worker.models.spec == other
    assert held_at_load == [False, False]
    assert editors[0]() is None and first_unet() is None  # only one model is held


class Tracer:
    """Records the thread in which it is destroyed."""

    def __init__(self, died_in: list[int]) -> None:
        self.died_in = died_in
        self.cycle = self

    def __del__(self) -> None:
        self.died_in.append(threading.get_ident())


def test_cycles_are_collected_in_the_gui_thread_only_while_the_worker_runs(client, qtbot, spec):
    """A cycle that holds a Qt object must never be freed in the worker thread."""
    collections: list[int] = []

    def record(phase, info) -> None:
        if phase == "start":
            collections.append(threading.get_ident())

    died_in: list[int] = []
    Tracer(died_in)  # garbage from now on, freeable only by the cyclic collector
    gc.callbacks.append(record)
    try:
        run_to_end(qtbot, client, move(steps=5), spec)  # thousands of worker allocations
        qtbot.waitUntil(lambda: bool(died_in), timeout=TIMEOUT_MS)
    finally:
        gc.callbacks.remove(record)
    gui = threading.main_thread().ident
    assert died_in == [gui]
    assert collections and set(collections) == {gui}
    assert not gc.isenabled()
    client.shutdown()
    assert gc.isenabled()  # given back to Python with the last worker


def test_out_of_memory_names_the_next_preset_and_that_preset_loads_at_the_next_job(
    client, qtbot, spec, monkeypatch
):
    """A CUDA out-of-memory error in the middle of an edit is one sentence naming the preset
    to try; the memory is released, and the job with that preset reloads the model with it."""
    import torch

    from diffeditor_app.engine.method.sampler import DiffEditorSampler
    from diffeditor_app.engine.models.memory import VramPreset

    def exhausted(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")

    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    with monkeypatch.context() as patch:
        patch.setattr(DiffEditorSampler, "sample", exhausted)
        medium = replace(spec, vram_preset="medium")
        _, (_, message) = run_to_end(qtbot, client, move(), medium, "failed")
    assert message == (
        "The computer ran out of memory with the 'medium' GPU memory preset; try the 'low' "
        "preset (Preferences > Performance > GPU memory) or a lower working resolution."
    )
    assert emptied and not client.busy
    assert not client.worker.models.editor.cache  # the prepared state went with the memory

    _, (_, result) = run_to_end(qtbot, client, move(), replace(spec, vram_preset="low"))
    assert isinstance(result, EditResult)
    assert client.worker.models.editor.model.memory.preset is VramPreset.LOW


def test_shutdown_joins_a_running_job_and_can_repeat(client, qtbot, spec):
    with qtbot.waitSignal(client.preview, timeout=TIMEOUT_MS):
        client.submit(move(steps=30), spec)
    client.shutdown()
    assert not client.thread.isRunning()
    assert not client.busy and client.worker.models.editor is None
    client.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        client.submit(move(), spec)


# -- with a scripted fake editor -------------------------------------------------------------


class FakeResult:
    pass


class FakeEditor:
    """Two prepare steps and `steps` sampling steps, or `error` raised at the first step."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.edits = 0

    def edit(self, request, on_step=None, on_prepare=None, interrupt=None, preview_budget=None):
        self.edits += 1
        for done in (1, 2):
            on_prepare(done, 2)
        for i in range(request.steps):
            if self.error is not None:
                raise self.error
            on_step(StepInfo(i, request.steps, np.zeros((8, 12, 3), np.uint8)))
        return FakeResult()

    def close(self) -> None:
        """Nothing to detach."""


def test_cancel_during_a_slow_model_load_lands_right_after_it(make_client, qtbot, spec):
    started, release = threading.Event(), threading.Event()
    editor = FakeEditor()

    def slow_loader(spec):
        started.set()
        release.wait(TIMEOUT_MS / 1000)
        return editor

    client = make_client(ModelManager(slow_loader))
    receiver = Receiver(client)
    job = client.submit(move(), spec)
    assert started.wait(TIMEOUT_MS / 1000)
    client.cancel()
    with qtbot.waitSignal(client.cancelled, timeout=TIMEOUT_MS):
        release.set()
    assert editor.edits == 0
    assert [kind for kind, *_ in receiver.messages] == ["loading", "cancelled"]
    assert receiver.jobs() == {job}


def test_an_unexpected_error_is_a_sentence_and_the_traceback_is_logged(
    make_client, qtbot, spec, caplog
):
    editor = FakeEditor(error=RuntimeError("tensor trouble\nwith a long torch trace"))
    client = make_client(ModelManager(lambda spec: editor))
    with caplog.at_level(logging.ERROR, logger="diffeditor_app.runtime"):
        _, (_, message) = run_to_end(qtbot, client, move(), spec, "failed")
    assert message == "Unexpected error: RuntimeError: tensor trouble"
    assert any(record.exc_info for record in caplog.records)
    editor.error = None
    _, (_, result) = run_to_end(qtbot, client, move(), spec)
    assert isinstance(result, FakeResult)


# -- the Qt-free parts ------------------------------------------------------------------------


def test_job_ids_only_grow():
    ids = JobIds()
    assert [ids.next() for _ in range(3)] == [1, 2, 3]


def test_cancel_flags_forget_finished_jobs():
    flags = CancelFlags()
    flags.cancel(1)
    flags.cancel(3)
    flags.check(2)
    with pytest.raises(EditCancelled):
        flags.check(1)
    flags.begin(3)  # jobs run in id order: 1 and 2 are over
    assert len(flags) == 1 and flags.is_cancelled(3)


def test_step_clock_estimates_the_time_left():
    now = [10.0]
    clock = StepClock(7, clock=lambda: now[0])
    now[0] = 14.0
    clock.restart()  # prepare ended: its time does not count
    now[0] = 16.0
    tick = clock.tick(2, 10)
    assert (tick.job_id, tick.step, tick.total, tick.elapsed_s) == (7, 2, 10, 2.0)
    assert tick.remaining_s == pytest.approx(8.0)


def test_error_sentences():
    from diffeditor_app.engine import InvalidInput

    assert error_sentence(InvalidInput("The mask is\n  empty.")) == "The mask is empty."
    assert error_sentence(KeyError()) == "Unexpected error: KeyError."
    assert len(error_sentence(ValueError("x" * 1000))) < 350


def test_a_job_without_previews_streams_progress_only(client, qtbot, spec):
    receiver = Receiver(client)
    with qtbot.waitSignal(client.finished, timeout=TIMEOUT_MS):
        client.submit(move(steps=4), spec, previews=False)
    assert receiver.of("preview") == []
    assert [step for _, step, *_ in receiver.of("progress")] == [1, 2, 3, 4]
