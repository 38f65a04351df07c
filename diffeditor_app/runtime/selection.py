"""The selection worker: GrabCut and Segment Anything off the GUI thread.

The wand answers within a frame and runs in the GUI thread; GrabCut takes up to a second
and SAM's image encoder several, so they run in the edit worker's thread (the one thread
that owns models, and whose shutdown ends them), in tagged messages like the edit
worker's (worker.py), each carrying the job id first:

    embedding(job)            SAM is reading the image (once per image; slow)
    finished(job, result)     a SelectionResult, or None for a `prime` job (embedding only)
    failed(job, sentence) | cancelled(job)

A selection asked for while an edit runs waits for it (the status bar says "selecting").
The worker keeps one SAM loaded (another spec frees the old one) and SAM keeps the
embeddings of the last images. A new job makes the previous one stale (its messages are
dropped), and cancels it unless it only primes the embedding, which the next click needs
anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from diffeditor_app.engine.errors import EngineError
from diffeditor_app.engine.outcomes import outcome_of
from diffeditor_app.engine.selection import Method, SelectionRequest, SelectionResult, select
from diffeditor_app.engine.selection.sam import SamSegmenter, SamSpec, load_sam
from diffeditor_app.runtime.client import JobClient
from diffeditor_app.runtime.jobs import CancelFlags, JobIds

log = logging.getLogger("diffeditor_app.runtime")

SamLoader = Callable[[SamSpec], SamSegmenter]


@dataclass(frozen=True, eq=False)
class SelectionJob:
    """One selection (or, with `prime`, only SAM's embedding of the request's image)."""

    id: int
    request: SelectionRequest
    sam: SamSpec | None = None  # needed for Method.SAM
    prime: bool = False


class SelectionWorker(QObject):
    embedding = Signal(int)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)

    def __init__(self, loader: SamLoader = load_sam) -> None:
        super().__init__()
        self._loader = loader
        self.flags = CancelFlags()
        self.spec: SamSpec | None = None
        self.sam: SamSegmenter | None = None

    def cancel(self, job_id: int) -> None:
        self.flags.cancel(job_id)

    def segmenter(self, spec: SamSpec) -> SamSegmenter:
        if self.sam is None or spec != self.spec:
            self.sam, self.spec = None, None
            self.sam, self.spec = self._loader(spec), spec
        return self.sam

    @Slot(object)
    def run(self, job: SelectionJob) -> None:
        self.flags.begin(job.id)
        outcome = outcome_of(lambda: self._select(job), f"Selection job {job.id}", log)
        outcome.deliver(
            lambda result: self.finished.emit(job.id, result),
            lambda sentence: self.failed.emit(job.id, sentence),
            lambda: self.cancelled.emit(job.id),
        )

    def _select(self, job: SelectionJob) -> SelectionResult | None:
        def interrupt() -> None:
            self.flags.check(job.id)

        interrupt()
        if not job.prime:  # a prime job has no prompt: it only reads the image
            job.request.validate()
        sam = None
        if job.request.method is Method.SAM:
            if job.sam is None:
                raise EngineError("No Segment Anything model was chosen.")
            sam = self.segmenter(job.sam)
            if not sam.has_embedding(job.request.rgb):
                self.embedding.emit(job.id)
                sam.embed(job.request.rgb, interrupt)
        return None if job.prime else select(job.request, sam, interrupt)


class SelectionClient(JobClient):
    """The GUI thread's side: submit, cancel, shut down; stale messages are dropped."""

    embedding = Signal(int)
    _submit = Signal(object)

    def __init__(
        self, thread: QThread, parent: QObject | None = None, loader: SamLoader = load_sam
    ) -> None:
        """`thread`: the running thread the worker moves to (the edit worker's); whoever
        owns it stops it."""
        super().__init__(parent)
        self._primes: set[int] = set()
        self._ids = JobIds()
        self._closed = False
        self.worker = SelectionWorker(loader)
        self.worker.moveToThread(thread)
        queued = Qt.ConnectionType.QueuedConnection
        self._submit.connect(self.worker.run, queued)
        self.worker.embedding.connect(self._on_embedding, queued)
        self.worker.finished.connect(self._on_finished, queued)
        self.worker.failed.connect(self._on_failed, queued)
        self.worker.cancelled.connect(self._on_cancelled, queued)

    def submit(
        self, request: SelectionRequest, sam: SamSpec | None = None, prime: bool = False
    ) -> int:
        """Queue a job; the previous one becomes stale (and is cancelled unless it primes
        SAM's embedding). Returns the job id."""
        if self._closed:
            raise RuntimeError("The selection worker has been shut down.")
        if self.current is not None and self.current not in self._primes:
            self.worker.cancel(self.current)
        job = SelectionJob(self._ids.next(), request, sam, prime)
        if prime:
            self._primes.add(job.id)
        self.current = job.id
        self._submit.emit(job)
        return job.id

    def cancel(self) -> None:
        """Stop every job not yet finished, primes included (the image changed)."""
        for job_id in {*self._primes, *([self.current] if self.current else [])}:
            self.worker.cancel(job_id)

    def shutdown(self) -> None:
        """Cancel everything and deliver nothing more; the thread's owner stops it."""
        self._closed = True
        self.cancel()
        self.current = None

    def _end(self, job: int) -> bool:
        self._primes.discard(job)  # a priming job's end is never stale for its bookkeeping
        return super()._end(job)

    @Slot(int)
    def _on_embedding(self, job: int) -> None:
        if job == self.current:
            self.embedding.emit(job)
