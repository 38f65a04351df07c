"""The GUI thread's side of a worker, shared by the edit and the selection clients.

A client has one current job. Its worker's messages arrive through queued connections and
pass here, in the GUI thread: a message of any other job is stale and dropped, and the
job's end (finished, failed or cancelled) passes exactly once, after which `busy` is off.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot


class JobClient(QObject):
    """One current job; its end messages pass once, stale ones are dropped."""

    finished = Signal(int, object)  # the job's result
    failed = Signal(int, str)  # one sentence
    cancelled = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current: int | None = None  # the job whose messages get through

    @property
    def busy(self) -> bool:
        return self.current is not None

    def _is_current(self, job: int) -> bool:
        return job == self.current

    def _end(self, job: int) -> bool:
        """Whether `job`'s end passes; if so the client is idle before receivers run."""
        if job != self.current:
            return False
        self.current = None
        return True

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
