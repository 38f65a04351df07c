"""How a job ends, decided in one place: finished with a result, failed with one sentence,
or cancelled.

The app's edit and selection workers and the server's editor replicas all run a job the same
way and report exactly one of the three; they differ only in where the outcome goes (a Qt
signal, a streamed event), so each hands `outcome_of` its work and sends what comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from diffeditor_app.engine.errors import EditCancelled, EngineError, InvalidInput, error_sentence

T = TypeVar("T")
OutcomeKind = Literal["finished", "failed", "cancelled"]  # the names of the end messages


@dataclass(frozen=True, eq=False)
class Outcome(Generic[T]):
    """The end of one job. `result` is set when it finished, `message` when it failed."""

    kind: OutcomeKind
    result: T | None = None
    message: str = ""  # one sentence a user can act on (failed only)
    bad_input: bool = False  # the request was at fault (InvalidInput), not the machine

    def deliver(
        self,
        finished: Callable[[T], None],
        failed: Callable[[str], None],
        cancelled: Callable[[], None],
    ) -> None:
        """Call the one receiver of this outcome."""
        if self.kind == "finished":
            finished(self.result)
        elif self.kind == "failed":
            failed(self.message)
        else:
            cancelled()


def outcome_of(
    work: Callable[[], T],
    what: str,
    log: logging.Logger,
    unexpected: str | None = None,
) -> Outcome[T]:
    """Run `work` and say how it ended; never raises (but for BaseExceptions such as
    KeyboardInterrupt). A deliberate engine error is logged as information, anything else
    with its traceback; its sentence is the error's own, or `unexpected` when given (a
    server does not show its clients its internals). `what` names the job in the log."""
    try:
        result = work()
    except EditCancelled:
        return Outcome("cancelled")
    except EngineError as error:
        log.info("%s failed: %s", what, error)
        bad_input = isinstance(error, InvalidInput)
        return Outcome("failed", message=error_sentence(error), bad_input=bad_input)
    except Exception as error:
        log.exception("%s failed unexpectedly", what)
        return Outcome("failed", message=unexpected or error_sentence(error))
    return Outcome("finished", result)
