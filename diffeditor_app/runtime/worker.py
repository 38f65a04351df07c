"""The edit worker: one QThread owns the models; the GUI talks to it in tagged messages.

`WorkerClient` lives in the GUI thread. It hands a request snapshot to `EditWorker` (moved
to its own QThread) and re-emits the worker's messages through @Slot methods, so receivers
run in the GUI thread, and drops every message whose job id is not the current job's.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Signal, Slot

from diffeditor_app.engine.errors import EditCancelled, EngineError
from diffeditor_app.engine.loading import ModelSpec
from diffeditor_app.engine.requests import EditRequest

log = logging.getLogger("diffeditor_app.runtime")
SHUTDOWN_WAIT_MS = 30_000  # a step of a big model can take seconds; cancel lands within one


@dataclass(frozen=True, eq=False)
class EditJob:
    """Everything one edit needs: the worker never reads the live document."""

    id: int
    request: EditRequest
    model: ModelSpec


class ModelManager:
    """One model and its Editor at a time; another spec frees the old one first."""

    def __init__(self) -> None:
        self.spec: ModelSpec | None = None
        self.editor = None

    def editor_for(self, spec: ModelSpec):
        from diffeditor_app.engine import Editor, load_model

        if spec != self.spec:
            self.release()
            self.editor = Editor(load_model(spec))
            self.spec = spec
        return self.editor

    def release(self) -> None:
        if self.editor is None:
            return
        self.editor, self.spec = None, None
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class EditWorker(QObject):
    """Runs jobs in its own thread; every message carries the job id first."""

    loading = Signal(int, str)
    preparing = Signal(int, int, int)  # inversion steps done, total
    progress = Signal(int, int, int, float)  # step done (1-based), total, seconds left
    preview = Signal(int, object)  # uint8 H x W x 3
    finished = Signal(int, object)  # EditResult
    failed = Signal(int, str)
    cancelled = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.models = ModelManager()
        self._cancelled: set[int] = set()
        self._lock = threading.Lock()

    def cancel(self, job_id: int) -> None:
        """Thread-safe: the running job stops at its next step."""
        with self._lock:
            self._cancelled.add(job_id)

    def _check(self, job_id: int) -> None:
        with self._lock:
            if job_id in self._cancelled:
                raise EditCancelled

    @Slot(object)
    def run(self, job: EditJob) -> None:
        try:
            self._check(job.id)
            if job.model != self.models.spec:
                self.loading.emit(job.id, f"Loading the model '{job.model.source}'…")
            editor = self.models.editor_for(job.model)
            self._check(job.id)
            start = time.perf_counter()

            def on_prepare(done: int, total: int) -> None:
                self.preparing.emit(job.id, done, total)
                self._check(job.id)

            def on_step(info) -> None:
                self.preview.emit(job.id, info.preview)
                done = info.step + 1
                elapsed = time.perf_counter() - start
                self.progress.emit(job.id, done, info.total, elapsed / done * (info.total - done))
                self._check(job.id)

            result = editor.edit(job.request, on_step=on_step, on_prepare=on_prepare)
            self.finished.emit(job.id, result)
        except EditCancelled:
            self.cancelled.emit(job.id)
        except EngineError as error:
            self.failed.emit(job.id, str(error))
        except Exception as error:
            log.exception("edit %s failed", job.id)
            self.failed.emit(job.id, f"Unexpected error: {type(error).__name__}: {error}")
        finally:
            with self._lock:
                self._cancelled.discard(job.id)


class WorkerClient(QObject):
    """The GUI thread's side: submit, cancel, shut down; stale messages are dropped."""

    loading = Signal(int, str)
    preparing = Signal(int, int, int)
    progress = Signal(int, int, int, float)
    preview = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    _submit = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("diffeditor-worker")
        self.worker = EditWorker()
        self.worker.moveToThread(self.thread)
        self._submit.connect(self.worker.run)
        self.worker.loading.connect(self._on_loading)
        self.worker.preparing.connect(self._on_preparing)
        self.worker.progress.connect(self._on_progress)
        self.worker.preview.connect(self._on_preview)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.thread.start()
        self.current: int | None = None
        self._next_id = 1

    @property
    def busy(self) -> bool:
        return self.current is not None

    def submit(self, request: EditRequest, model: ModelSpec) -> int:
        """Start a job (cancelling a running one); returns its id."""
        self.cancel()
        job = EditJob(self._next_id, request, model)
        self._next_id += 1
        self.current = job.id
        self._submit.emit(job)
        return job.id

    def cancel(self) -> None:
        if self.current is not None:
            self.worker.cancel(self.current)

    def shutdown(self) -> None:
        """Cancel, stop the thread and wait for it; harmless to call twice."""
        self.cancel()
        if self.thread.isRunning():
            self.thread.quit()
            self.thread.wait(SHUTDOWN_WAIT_MS)
        self.worker.models.release()

    def _current(self, job: int) -> bool:
        return job == self.current

    def _end(self, job: int) -> bool:
        if job != self.current:
            return False
        self.current = None
        return True

    @Slot(int, str)
    def _on_loading(self, job: int, message: str) -> None:
        if self._current(job):
            self.loading.emit(job, message)

    @Slot(int, int, int)
    def _on_preparing(self, job: int, done: int, total: int) -> None:
        if self._current(job):
            self.preparing.emit(job, done, total)

    @Slot(int, int, int, float)
    def _on_progress(self, job: int, step: int, total: int, remaining: float) -> None:
        if self._current(job):
            self.progress.emit(job, step, total, remaining)

    @Slot(int, object)
    def _on_preview(self, job: int, preview) -> None:
        if self._current(job):
            self.preview.emit(job, preview)

    @Slot(int, object)
    def _on_finished(self, job: int, result) -> None:
        if self._end(job):
            self.finished.emit(job, result)

    @Slot(int, str)
    def _on_failed(self, job: int, message: str) -> None:
        if self._end(job):
            self.failed.emit(job, message)

    @Slot(int)
    def _on_cancelled(self, job: int) -> None:
        if self._end(job):
            self.cancelled.emit(job)
