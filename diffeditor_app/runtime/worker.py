"""The edit worker: one QThread owns the models; the GUI talks to it in tagged messages.

`WorkerClient` lives in the GUI thread. It hands an `EditJob` snapshot to `EditWorker` (moved
to its own QThread) through a queued signal, and re-emits the worker's messages through
@Slot methods, so receivers run in the GUI thread; a message whose job id is not the current
job's is dropped there, in one place. Every message carries the job id first:

    loading(job, message)            the model is being loaded (only when it is not cached)
    preparing(job, done, total)      inversion steps of prepare
    progress(job, step, total, s)    sampling step `step` of `total` done (1-based), s left
    preview(job, rgb)                the x0 estimate of that step, uint8 H x W x 3 (the VAE's
                                     decode, throttled to PREVIEW_BUDGET of the time)
    finished(job, EditResult) | failed(job, sentence) | cancelled(job)   exactly one per job

Cancel is a thread-safe flag read before every UNet call (the engine's `interrupt`), which
raises `EditCancelled`, so a running edit stops within one UNet call, in prepare as in
sampling. Model loading cannot be interrupted; the flag is checked as soon as it ends.

Nothing that crosses the thread boundary holds a Qt object: jobs, previews and results are
plain Python, numpy and PIL. While the worker exists, cyclic garbage is collected in the GUI
thread only (`GuiCollector`), since a cycle holding a Qt object must not die in the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from diffeditor_app.engine.editor import Editor, EditResult, StepInfo
from diffeditor_app.engine.errors import OutOfMemory
from diffeditor_app.engine.models.loading import load_model
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.outcomes import outcome_of
from diffeditor_app.engine.requests import EditRequest
from diffeditor_app.runtime.client import JobClient
from diffeditor_app.runtime.collector import GuiCollector
from diffeditor_app.runtime.jobs import CancelFlags, EditJob, JobIds, StepClock
from diffeditor_app.server.client import RemoteEditor, ServerAddress

__all__ = ["EditJob", "EditWorker", "ModelManager", "WorkerClient"]

log = logging.getLogger("diffeditor_app.runtime")
SHUTDOWN_WAIT_MS = 30_000  # a step of a big model can take seconds; cancel lands within one
PREVIEW_BUDGET = 0.25  # VAE previews may cost at most this share of the sampling time
NO_PREVIEWS = 0.0  # previews off: the engine decodes none

EditorLoader = Callable[[ModelSpec], Editor]
RemoteFactory = Callable[[ServerAddress], RemoteEditor]


def load_editor(spec: ModelSpec) -> Editor:
    return Editor(load_model(spec))


class ModelManager:
    """One model and its Editor at a time; another spec frees the old one before loading.

    Used from the worker thread only (or after that thread has stopped). `loader` builds an
    Editor for a spec; tests pass a scripted fake.
    """

    def __init__(self, loader: EditorLoader = load_editor) -> None:
        self._loader = loader
        self.spec: ModelSpec | None = None
        self.editor: Editor | None = None

    def is_loaded(self, spec: ModelSpec) -> bool:
        return self.editor is not None and spec == self.spec

    def editor_for(self, spec: ModelSpec) -> Editor:
        if self.is_loaded(spec):
            return self.editor
        self.release()
        try:
            editor = self._loader(spec)
        except torch.OutOfMemoryError:
            self.release()  # what the half-loaded model held
            raise OutOfMemory(
                f"The device ran out of memory while loading the model '{spec.source}'; "
                "try half precision (fp16) or close other programs that use the GPU."
            ) from None
        self.editor, self.spec = editor, spec
        return editor

    def release(self) -> None:
        """Drop the editor and its model, and give the memory back to the device. The
        editor is closed first, so reference counting frees the model here and now: no
        cyclic collection runs in the worker thread (see collector.py)."""
        if self.editor is not None:
            self.editor.close()
        self.editor, self.spec = None, None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class EditWorker(QObject):
    """Runs jobs one after another in its own thread; every message carries the job id."""

    loading = Signal(int, str)
    preparing = Signal(int, int, int)  # inversion steps done, total
    progress = Signal(int, int, int, float)  # step done (1-based), total, seconds left
    preview = Signal(int, object)  # uint8 H x W x 3
    finished = Signal(int, object)  # EditResult
    failed = Signal(int, str)  # one sentence
    cancelled = Signal(int)

    def __init__(
        self, models: ModelManager | None = None, remote: RemoteFactory = RemoteEditor
    ) -> None:
        super().__init__()
        self.models = models if models is not None else ModelManager()
        self.flags = CancelFlags()
        self._remote = remote
        self._remote_editor: RemoteEditor | None = None  # kept while the address stays

    def _editor_for(self, job: EditJob) -> Editor | RemoteEditor:
        """The local model's editor, or the server's when the job names one (the local
        model is then released: its memory is better spent elsewhere)."""
        if job.server is None:
            if not self.models.is_loaded(job.model):
                self.loading.emit(job.id, f"Loading the model '{job.model.source}'…")
            return self.models.editor_for(job.model)
        self.models.release()
        remote = self._remote_editor
        if remote is None or remote.address != job.server:
            if remote is not None:
                remote.close()
            remote = self._remote_editor = self._remote(job.server)
        return remote

    def close_remote(self) -> None:
        """Close the server connection (after the thread has stopped)."""
        if self._remote_editor is not None:
            self._remote_editor.close()
            self._remote_editor = None

    def cancel(self, job_id: int) -> None:
        """Thread-safe: the job stops at its next step, or does not start at all."""
        self.flags.cancel(job_id)

    @Slot(object)
    def run(self, job: EditJob) -> None:
        self.flags.begin(job.id)
        outcome = outcome_of(lambda: self._edit(job), f"Edit job {job.id}", log)
        outcome.deliver(
            lambda result: self.finished.emit(job.id, result),
            lambda sentence: self.failed.emit(job.id, sentence),
            lambda: self.cancelled.emit(job.id),
        )

    def _edit(self, job: EditJob) -> EditResult:
        self.flags.check(job.id)
        editor = self._editor_for(job)
        self.flags.check(job.id)  # loading may have taken long
        clock = StepClock(job.id)
        return editor.edit(
            job.request,
            on_step=self._step_handler(job, clock),
            on_prepare=self._prepare_handler(job, clock),
            interrupt=lambda: self.flags.check(job.id),
            preview_budget=PREVIEW_BUDGET if job.previews else NO_PREVIEWS,
        )

    def _prepare_handler(self, job: EditJob, clock: StepClock) -> Callable[[int, int], None]:
        def on_prepare(done: int, total: int) -> None:
            self.flags.check(job.id)
            self.preparing.emit(job.id, done, total)
            clock.restart()  # the last call marks the start of sampling

        return on_prepare

    def _step_handler(self, job: EditJob, clock: StepClock) -> Callable[[StepInfo], None]:
        def on_step(info: StepInfo) -> None:
            self.flags.check(job.id)  # a cancelled job shows nothing more
            tick = clock.tick(info.step + 1, info.total)
            if info.preview is not None:
                self.preview.emit(job.id, info.preview)
            self.progress.emit(job.id, tick.step, tick.total, tick.remaining_s)

        return on_step


class WorkerClient(JobClient):
    """The GUI thread's side: submit, cancel, shut down; stale messages are dropped.

    One job at a time: `submit` cancels the running job first. `busy` is True from `submit`
    until the current job's finished, failed or cancelled message has been re-emitted.
    """

    loading = Signal(int, str)
    preparing = Signal(int, int, int)
    progress = Signal(int, int, int, float)
    preview = Signal(int, object)
    _submit = Signal(object)

    def __init__(self, parent: QObject | None = None, models: ModelManager | None = None) -> None:
        super().__init__(parent)
        self._ids = JobIds()
        self._closed = False
        self.collector = GuiCollector(self)  # cycles die in this (the GUI) thread only
        self.collector.start()
        # No Qt parent: the thread must outlive any parent's destruction until shutdown().
        # (The attribute shadows QObject.thread(); kept for existing callers.)
        self.thread = QThread()
        self.thread.setObjectName("diffeditor-worker")
        self.worker = EditWorker(models)
        self.worker.moveToThread(self.thread)
        queued = Qt.ConnectionType.QueuedConnection
        self._submit.connect(self.worker.run, queued)
        self.worker.loading.connect(self._on_loading, queued)
        self.worker.preparing.connect(self._on_preparing, queued)
        self.worker.progress.connect(self._on_progress, queued)
        self.worker.preview.connect(self._on_preview, queued)
        self.worker.finished.connect(self._on_finished, queued)
        self.worker.failed.connect(self._on_failed, queued)
        self.worker.cancelled.connect(self._on_cancelled, queued)
        self.thread.start()

    def submit(
        self,
        request: EditRequest,
        model: ModelSpec,
        previews: bool = True,
        server: ServerAddress | None = None,
    ) -> int:
        """Queue a job (cancelling the running one); returns its id. With `server` the
        job runs there, with the same messages."""
        if self._closed:
            raise RuntimeError("The edit worker has been shut down.")
        self.cancel()
        job = EditJob(self._ids.next(), request, model, previews, server)
        self.current = job.id
        self._submit.emit(job)
        return job.id

    def cancel(self) -> None:
        """Ask the current job to stop; its `cancelled` message follows within a step."""
        if self.current is not None:
            self.worker.cancel(self.current)

    def shutdown(self) -> None:
        """Cancel, stop the thread and wait for it, then free the model; harmless twice."""
        if self._closed:
            return
        self._closed = True
        self.cancel()
        self.current = None  # nothing more is delivered
        self.thread.quit()
        if self.thread.wait(SHUTDOWN_WAIT_MS):
            self.worker.models.release()  # the worker thread is gone: no one else owns it
            self.worker.close_remote()
            self.collector.stop()
        else:
            log.warning("The edit worker did not stop within %d ms.", SHUTDOWN_WAIT_MS)

    # -- the one place that decides which messages get through --------------------------

    @Slot(int, str)
    def _on_loading(self, job: int, message: str) -> None:
        if self._is_current(job):
            self.loading.emit(job, message)

    @Slot(int, int, int)
    def _on_preparing(self, job: int, done: int, total: int) -> None:
        if self._is_current(job):
            self.preparing.emit(job, done, total)

    @Slot(int, int, int, float)
    def _on_progress(self, job: int, step: int, total: int, remaining: float) -> None:
        if self._is_current(job):
            self.progress.emit(job, step, total, remaining)

    @Slot(int, object)
    def _on_preview(self, job: int, preview) -> None:
        if self._is_current(job):
            self.preview.emit(job, preview)
