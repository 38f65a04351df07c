"""Jobs and their bookkeeping, free of Qt: what goes into the worker and how it is tracked.

An `EditJob` is a snapshot (the worker never reads the live document). Job ids come from
`JobIds` and only grow, so a message tagged with an old id is recognisably stale.
`CancelFlags` is the thread-safe switch the GUI thread flips and the worker's step callback
reads; `StepClock` turns step times into the progress bar's "time left".
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from diffeditor_app.engine.errors import EditCancelled
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.requests import EditRequest
from diffeditor_app.server.client import ServerAddress


@dataclass(frozen=True, eq=False)  # eq=False: requests hold numpy arrays
class EditJob:
    """Everything one edit needs, frozen when the user pressed Edit."""

    id: int
    request: EditRequest
    model: ModelSpec
    previews: bool = True  # stream x0 previews (the live_previews preference)
    server: ServerAddress | None = None  # run there instead of on this computer


@dataclass(frozen=True)
class Progress:
    """One sampling step done."""

    job_id: int
    step: int  # steps done, 1-based
    total: int
    elapsed_s: float  # since sampling began (prepare and loading excluded)
    remaining_s: float  # estimate for the steps left


class JobIds:
    """Increasing job ids from 1; never reused, so a stale id stays stale."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._counter)


class CancelFlags:
    """Which jobs should stop: set from the GUI thread, checked from the worker thread.

    Jobs run in id order, so when a job begins every smaller id is over and its flag can go;
    the set never holds more than the cancelled jobs still waiting in the queue.
    """

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()

    def cancel(self, job_id: int) -> None:
        with self._lock:
            self._ids.add(job_id)

    def is_cancelled(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._ids

    def check(self, job_id: int) -> None:
        """Raise EditCancelled when `job_id` was cancelled (called from engine callbacks)."""
        if self.is_cancelled(job_id):
            raise EditCancelled("The edit was cancelled.")

    def begin(self, job_id: int) -> None:
        """`job_id` starts: forget the flags of the jobs before it."""
        with self._lock:
            self._ids = {i for i in self._ids if i >= job_id}

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)


class StepClock:
    """Time left from the mean duration of the steps so far (DiffEditor's guided steps cost
    more than plain ones, and a running mean smooths that out without a per-task table)."""

    def __init__(self, job_id: int, clock: Callable[[], float] = time.perf_counter) -> None:
        self.job_id = job_id
        self._clock = clock
        self._start = clock()

    def restart(self) -> None:
        """Sampling starts now (called as prepare reports, so its time is not counted)."""
        self._start = self._clock()

    def tick(self, step: int, total: int) -> Progress:
        """`step` steps of `total` are done (1-based)."""
        elapsed = max(0.0, self._clock() - self._start)
        remaining = elapsed / step * (total - step) if step > 0 else 0.0
        return Progress(self.job_id, step, total, elapsed, max(0.0, remaining))
