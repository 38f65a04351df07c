"""Running an edit and choosing among its results, apart from the window's menus and docks.

The path of an edit: the Edit button -> `EditController.run()` -> the document builds and
validates the whole request once (`document.snapshot.build_request`) -> the worker runs it
in its thread -> tagged messages come back to the slots below -> the finished result becomes
a `Candidate` of the session -> Keep turns it into one undo step. The controller never
reads a tensor; what it shows of a result is the engine's `SourceImage` and seed as they are.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from diffeditor_app.document import commands
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.snapshot import build_request
from diffeditor_app.document.state import Candidate, EditSetup
from diffeditor_app.engine.errors import EngineError
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.server.client import ServerAddress
from diffeditor_app.ui.canvas import Canvas
from diffeditor_app.ui.panels import CandidatesBar, EditPanel, new_seed
from diffeditor_app.ui.tasks import VIEWS

NOTE_MS = 10_000  # how long a result's note stays in the status bar


class EditController(QObject):
    """Submits the session's edit to the worker, follows it, and keeps its candidates.

    It tells the window what to show through signals: `problem(title, sentence)` for a
    dialog, `note(text, ms)` for the status bar, `submitted()` once a job is on its way and
    `kept()` after a result became the current image (the window autosaves then).
    """

    problem = Signal(str, str)
    note = Signal(str, int)
    submitted = Signal()
    kept = Signal()

    def __init__(
        self,
        worker,
        panel: EditPanel,
        bar: CandidatesBar,
        canvas: Canvas,
        model_spec: Callable[[], ModelSpec],
        default_resolution: Callable[[], int | None],
        previews: Callable[[], bool],
        server: Callable[[], ServerAddress | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = worker
        self.panel = panel
        self.bar = bar
        self.canvas = canvas
        self.model_spec = model_spec
        self.default_resolution = default_resolution
        self.previews = previews
        self.server = server  # where edits run: None for this computer
        self.session: EditSession | None = None
        self.index = -1  # the candidate shown on the canvas; -1: none
        self.running_setup: EditSetup | None = None  # what the running edit was given
        panel.edit_requested.connect(self.run)
        panel.cancel_requested.connect(self.cancel)
        bar.keep_requested.connect(self.keep)
        bar.discard_requested.connect(self.discard)
        bar.again_requested.connect(self.run_again)
        bar.index_changed.connect(self.show)
        worker.loading.connect(self.on_loading)
        worker.preparing.connect(self.on_preparing)
        worker.progress.connect(self.on_progress)
        worker.preview.connect(self.on_preview)
        worker.finished.connect(self.on_finished)
        worker.failed.connect(self.on_failed)
        worker.cancelled.connect(self.on_cancelled)

    def set_session(self, session: EditSession | None) -> None:
        if self.session is not None:
            self.session.candidates_changed.disconnect(self._show_bar)
        self.session = session
        self.index = -1
        if session is not None:
            session.candidates_changed.connect(self._show_bar)
        self._show_bar()

    # -- running --------------------------------------------------------------------------

    @Slot()
    def run(self, fresh_seed: bool = False) -> None:
        if self.session is None or self.worker.busy:
            return
        if fresh_seed:
            self.session.set_text(seed=new_seed())
        try:
            request = build_request(
                self.session.state, self.default_resolution(), self.panel.default_quality
            )
            server = self.server()
        except EngineError as error:
            self.problem.emit("Cannot run the edit", str(error))
            return
        self.running_setup = EditSetup.of(self.session.state)
        self.worker.submit(request, self.model_spec(), self.previews(), server)
        self.panel.set_running(True)
        self.submitted.emit()

    @Slot()
    def run_again(self) -> None:
        self.run(fresh_seed=True)

    @Slot()
    def cancel(self) -> None:
        """The worker stops before its next UNet call; the panel says so at once."""
        if self.worker.busy:
            self.worker.cancel()
            self.panel.set_cancelling()

    @Slot(int, str)
    def on_loading(self, job: int, message: str) -> None:
        self.panel.status.setText(message)

    @Slot(int, int, int)
    def on_preparing(self, job: int, done: int, total: int) -> None:
        self.panel.show_preparing(done, total)

    @Slot(int, int, int, float)
    def on_progress(self, job: int, step: int, total: int, remaining: float) -> None:
        self.panel.show_progress(step, total, remaining)

    @Slot(int, object)
    def on_preview(self, job: int, preview) -> None:
        self.canvas.set_preview(preview)

    @Slot(int, object)
    def on_finished(self, job: int, result) -> None:
        self._stopped("")
        summary = f"seed {result.seed} · {result.prepare_s + result.edit_s:.1f} s"
        self.panel.status.setText(f"Done: {summary}. Keep or discard the result below.")
        for line in result.notes:
            self.note.emit(line, NOTE_MS)
        candidate = Candidate(result.source_image(), result.seed, summary, self.running_setup)
        self.session.add_candidate(candidate)
        self.show(len(self.session.candidates) - 1)

    @Slot(int, str)
    def on_failed(self, job: int, message: str) -> None:
        self._stopped("The edit failed.")
        self.problem.emit("The edit failed", message)

    @Slot(int)
    def on_cancelled(self, job: int) -> None:
        self._stopped("Cancelled.")

    def _stopped(self, status: str) -> None:
        self.panel.set_running(False)
        self.canvas.set_preview(None)
        self.panel.status.setText(status)

    # -- candidates -----------------------------------------------------------------------

    @Slot(int)
    def show(self, index: int) -> None:
        candidates = self.session.candidates if self.session else []
        self.index = index if 0 <= index < len(candidates) else -1
        chosen = candidates[self.index] if self.index >= 0 else None
        self.canvas.set_candidate(chosen.image if chosen else None)
        self._show_bar()

    def _show_bar(self) -> None:
        candidates = self.session.candidates if self.session else []
        if self.index >= len(candidates):
            self.index = -1
        summary = candidates[self.index].summary if self.index >= 0 else ""
        self.bar.show_candidates(len(candidates), self.index, summary)

    @Slot()
    def keep(self) -> None:
        """The result becomes the current image, and the masks, box, points and paste
        layer follow it (one undo step)."""
        if self.session is None or self.index < 0:
            return
        chosen = self.session.candidates[self.index]
        commands.keep_result(self.session, chosen.image, chosen.made_with)
        self.session.clear_candidates()
        self.show(-1)
        self.panel.status.setText(VIEWS[chosen.made_with.task].kept)
        self.kept.emit()

    @Slot()
    def discard(self) -> None:
        if self.session is None or self.index < 0:
            return
        index = self.index  # the session's signal below redraws the bar and can reset it
        self.session.discard_candidate(self.session.candidates[index])
        self.show(min(index, len(self.session.candidates) - 1))
        if not self.session.candidates:
            self.panel.status.setText("Discarded. Change the set-up and press Edit.")
