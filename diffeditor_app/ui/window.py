"""The main window: canvas, tools, task switcher, panels, menus; edits go to the worker.

The window owns no document data: it holds the open `EditSession`, shows it through the
canvas and panels, and changes it only through undo commands.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QToolBar,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from diffeditor_app.document import commands
from diffeditor_app.document.project import load_project, save_project
from diffeditor_app.document.session import Candidate, EditSession, MaskName
from diffeditor_app.document.snapshot import build_request
from diffeditor_app.engine.errors import EngineError, InvalidInput
from diffeditor_app.engine.images import SourceImage, load_image
from diffeditor_app.engine.loading import ModelSpec, declared_profile
from diffeditor_app.engine.outputs import UserFiles, export_image
from diffeditor_app.engine.settings import Task
from diffeditor_app.ui.canvas import Canvas
from diffeditor_app.ui.panels import TASK_LABELS, CandidatesBar, EditPanel, new_seed

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp *.gif)"
PROJECT_FILTER = "DiffEditor projects (*.diffedit)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)"
PROJECT_SUFFIX = ".diffedit"
AUTOSAVE_NAME = "autosave.diffedit"
STATUS_NOTE_MS = 10_000  # long enough to read a note about what an export could not keep
TASK_MASKS = {
    Task.MOVE: MaskName.OBJECT,
    Task.DRAG: MaskName.REGION,
    Task.APPEARANCE: MaskName.OBJECT,
    Task.PASTE: MaskName.OBJECT,
}
TASK_TOOLS = {Task.MOVE: "brush", Task.DRAG: "brush", Task.APPEARANCE: "brush", Task.PASTE: "paste"}
TOOLS = (
    ("brush", "Brush", "B"),
    ("eraser", "Eraser", "E"),
    ("points", "Points", "P"),
    ("box", "Move box", "V"),
    ("paste", "Paste layer", "L"),
    ("pan", "Pan", "H"),
)


def proposed_name(path: Path) -> Path:
    """`photo.jpg` -> `photo-edited.png`, then `photo-edited-2.png`, ...: never the original."""
    candidate = path.with_name(f"{path.stem}-edited.png")
    number = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-edited-{number}.png")
        number += 1
    return candidate


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings,
        worker,
        data_dir: Path,
        model: ModelSpec | None = None,
        interactive: bool = True,
    ) -> None:
        """`interactive=False` (a screenshot): problems raise InvalidInput, never a dialog."""
        super().__init__()
        self.interactive = interactive
        self.settings = settings
        self.worker = worker
        self.data_dir = Path(data_dir)
        self.model_override = model
        self.session: EditSession | None = None
        self.image_path: Path | None = None
        self.reference_path: Path | None = None
        self.project_path: Path | None = None
        self.candidate_index = -1
        self.job_seed: int | None = None
        self.setWindowTitle("DiffEditor")
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.canvas = Canvas(self)
        self.setCentralWidget(self._central())
        self.edit_panel = EditPanel()
        self.reference_canvas = Canvas()
        self.reference_canvas.set_target("reference")
        self.reference_canvas.set_tool("brush")
        self.reference_canvas.mask_name = MaskName.REFERENCE
        self.history = QUndoView()
        self._docks()
        self._actions()
        self._status()
        self._connect_worker()
        self._bind_tool_options()
        self._follow_cache_folder()
        self.settings.changed.connect(self._follow_cache_folder)
        self.set_session(None)

    # -- layout ---------------------------------------------------------------------------

    def _central(self) -> QWidget:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        self.candidates = CandidatesBar()
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.candidates)
        self.candidates.keep_requested.connect(self.keep_candidate)
        self.candidates.discard_requested.connect(self.discard_candidate)
        self.candidates.again_requested.connect(lambda: self.run_edit(fresh_seed=True))
        self.candidates.index_changed.connect(self.show_candidate)
        return central

    def _docks(self) -> None:
        def dock(title: str, widget: QWidget, area) -> QDockWidget:
            holder = QDockWidget(title, self)
            holder.setObjectName(title)
            holder.setWidget(widget)
            self.addDockWidget(area, holder)
            return holder

        right = Qt.DockWidgetArea.RightDockWidgetArea
        dock("Edit", self.edit_panel, right)
        reference = QWidget()
        layout = QVBoxLayout(reference)
        self.load_reference_button = QPushButton("Load reference image…")
        self.load_reference_button.clicked.connect(self.choose_reference)
        layout.addWidget(self.load_reference_button)
        layout.addWidget(self.reference_canvas, 1)
        self.reference_dock = dock("Reference", reference, right)
        self.history_dock = dock("History", self.history, right)
        self.edit_panel.edit_requested.connect(self.run_edit)
        self.edit_panel.cancel_requested.connect(self.cancel_edit)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _actions(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open image…", self.choose_image, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file, "Open &project…", self.choose_project, "Ctrl+Shift+O")
        file.addSeparator()
        self._action(file, "&Save project", self.save_project, QKeySequence.StandardKey.Save)
        self._action(file, "Save project &as…", self.save_project_as, "Ctrl+Shift+S")
        self._action(file, "&Export image as…", self.export_image, "Ctrl+E")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo", self.redo, "Ctrl+Shift+Z")
        edit.addSeparator()
        self._action(edit, "&Clear mask", self.clear_mask, "Ctrl+Backspace")
        self._action(edit, "&Invert mask", self.invert_mask, "Ctrl+I")
        self._action(edit, "Clear &points", self.clear_points, "Ctrl+Shift+Backspace")

        settings = bar.addMenu("&Settings")
        self._action(settings, "&Preferences…", self.show_preferences, "Ctrl+,")
        self._action(settings, "&Model setup…", self.show_model_setup)

        view = bar.addMenu("&View")
        self._action(view, "&Fit", self.canvas.fit, "Ctrl+0")
        self._action(view, "&100%", self.canvas.zoom_100, "Ctrl+1")
        self.mask_visible = self._action(view, "Show &mask", self.canvas.set_mask_visible, "M")
        self.mask_visible.setCheckable(True)
        self.mask_visible.setChecked(True)
        view.addAction(self.history_dock.toggleViewAction())
        view.addAction(self.reference_dock.toggleViewAction())

        tasks = QToolBar("Tasks", self)
        tasks.setObjectName("tasks")
        self.addToolBar(tasks)
        self.task_actions: dict[Task, QAction] = {}
        group = QActionGroup(self)
        for task, label in TASK_LABELS.items():
            action = QAction(label, self, checkable=True)
            action.triggered.connect(lambda _=False, t=task: self.set_task(t))
            group.addAction(action)
            tasks.addAction(action)
            self.task_actions[task] = action

        tools = QToolBar("Tools", self)
        tools.setObjectName("tools")
        self.addToolBar(tools)
        self.tool_actions: dict[str, QAction] = {}
        tool_group = QActionGroup(self)
        for name, label, key in TOOLS:
            action = QAction(label, self, checkable=True)
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{label} ({key})")
            action.triggered.connect(lambda _=False, n=name: self.set_tool(n))
            tool_group.addAction(action)
            tools.addAction(action)
            self.tool_actions[name] = action
        fill = QAction("Fill hint", self, checkable=True)
        fill.setToolTip("Brush paints what should fill the vacated area (Move)")
        fill.toggled.connect(self.set_fill_hint)
        tools.addAction(fill)
        self.fill_action = fill

    def _status(self) -> None:
        self.size_label, self.zoom_label, self.model_label = QLabel(), QLabel(), QLabel()
        for label in (self.size_label, self.zoom_label, self.model_label):
            self.statusBar().addPermanentWidget(label)
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.show_model()

    def show_model(self) -> None:
        """The model in the status bar, and its tuned numbers as the Advanced defaults."""
        spec = self.model_spec()
        self.model_label.setText(f"{spec.device} · {spec.source}")
        self.edit_panel.set_profile(declared_profile(spec.source))

    def _bind_tool_options(self) -> None:
        """Brush size, hardness and mask opacity are preferences, not undo steps: both
        canvases follow the settings, and `[` / `]` on a canvas write back to them."""

        def refresh(key: str = "") -> None:
            for canvas in (self.canvas, self.reference_canvas):
                canvas.brush_size = self.settings.get("brush_size")
                canvas.brush_hardness = self.settings.get("brush_hardness")
                canvas.mask_opacity = self.settings.get("mask_opacity")

        refresh()
        self.settings.changed.connect(refresh)
        for canvas in (self.canvas, self.reference_canvas):
            canvas.brush_size_changed.connect(lambda size: self.settings.set("brush_size", size))

    def _follow_cache_folder(self, key: str = "cache_folder") -> None:
        from diffeditor_app.runtime.weights import apply_cache_folder

        if key == "cache_folder":
            apply_cache_folder(self.settings.get("cache_folder"))

    def _connect_worker(self) -> None:
        self.worker.loading.connect(self.on_loading)
        self.worker.preparing.connect(self.on_preparing)
        self.worker.progress.connect(self.on_progress)
        self.worker.preview.connect(self.on_preview)
        self.worker.finished.connect(self.on_finished)
        self.worker.failed.connect(self.on_failed)
        self.worker.cancelled.connect(self.on_cancelled)

    # -- session ------------------------------------------------------------------------

    def model_spec(self) -> ModelSpec:
        return self.model_override or self.settings.model_spec()

    def set_session(self, session: EditSession | None) -> None:
        self.session = session
        self.canvas.set_session(session)
        self.reference_canvas.set_session(session)
        self.edit_panel.set_session(session)
        self.history.setStack(session.undo_stack if session else None)
        self.candidate_index = -1
        self._show_candidates()
        for action in (*self.task_actions.values(), *self.tool_actions.values()):
            action.setEnabled(session is not None)
        if session is None:
            self.size_label.setText("No image: open one with Ctrl+O or drop it here")
            return
        session.image_changed.connect(self._update_size)
        self._update_size()
        self.set_task(session.task)
        self.canvas.fit()

    def _update_size(self) -> None:
        image = self.session.image
        self.size_label.setText(f"{image.width} × {image.height}")

    def open_image(self, path: Path) -> bool:
        try:
            image = load_image(path)
        except EngineError as error:
            self.complain("Cannot open the image", str(error))
            return False
        self.image_path, self.project_path = Path(path), None
        self.set_session(EditSession.open(image, self))
        self.settings.add_recent(str(path))
        self.setWindowTitle(f"{Path(path).name} — DiffEditor")
        return True

    def open_project(self, path: Path) -> bool:
        try:
            state = load_project(path)
        except EngineError as error:
            self.complain("Cannot open the project", str(error))
            return False
        self.image_path, self.project_path = None, Path(path)
        self.set_session(EditSession(state, self))
        self.settings.add_recent(str(path))
        self.setWindowTitle(f"{Path(path).name} — DiffEditor")
        return True

    def open_path(self, path: Path) -> bool:
        if Path(path).suffix == PROJECT_SUFFIX:
            return self.open_project(path)
        return self.open_image(path)

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", IMAGE_FILTER)
        if path:
            self.open_image(Path(path))

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", PROJECT_FILTER)
        if path:
            self.open_project(Path(path))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for entry in self.settings.get("recent_files"):
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(lambda _=False, p=entry: self.open_path(Path(p)))
        self.recent_menu.setEnabled(bool(self.settings.get("recent_files")))

    def choose_reference(self) -> None:
        if self.session is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load reference", "", IMAGE_FILTER)
        if path:
            self.load_reference(Path(path))

    def load_reference(self, path: Path) -> bool:
        try:
            reference = load_image(path)
        except EngineError as error:
            self.complain("Cannot open the reference", str(error))
            return False
        commands.set_reference(self.session, reference)
        self.reference_path = Path(path)
        self.reference_canvas.fit()
        return True

    def save_project(self) -> None:
        if self.session is None:
            return
        if self.project_path is None:
            self.save_project_as()
            return
        try:
            save_project(self.session.state, self.project_path)
        except OSError as error:
            self.complain("Cannot save the project", str(error))
            return
        self.session.undo_stack.setClean()
        self.statusBar().showMessage(f"Saved {self.project_path}", 4000)

    def save_project_as(self) -> None:
        if self.session is None:
            return
        start = self.image_path.with_suffix(PROJECT_SUFFIX) if self.image_path else Path()
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(start), PROJECT_FILTER)
        if path:
            self.project_path = Path(path).with_suffix(PROJECT_SUFFIX)
            self.save_project()

    def export_image(self, path: Path | None = None) -> bool:
        """Save the current image under a new name; the original file is never replaced."""
        if self.session is None:
            return False
        if path is None:
            start = proposed_name(self.image_path) if self.image_path else Path("edited.png")
            chosen, _ = QFileDialog.getSaveFileName(self, "Export image", str(start), SAVE_FILTER)
            if not chosen:
                return False
            path = Path(chosen)
        given = {"the original image": self.image_path, "the reference image": self.reference_path}
        files = UserFiles({what: p for what, p in given.items() if p is not None})
        try:
            files.check_output(Path(path), option="That file")
            notes = export_image(self.session.image.to_pil(), path, self.session.state.original)
        except InvalidInput as error:
            self.complain("Not saved", str(error))
            return False
        except (OSError, ValueError) as error:
            self.complain("Cannot save the image", str(error))
            return False
        self.statusBar().showMessage(" ".join([f"Saved {path}.", *notes]), STATUS_NOTE_MS)
        return True

    def show_preferences(self) -> None:
        from diffeditor_app.ui.preferences import PreferencesDialog

        if PreferencesDialog(self.settings, self).exec():
            self.show_model()

    def show_model_setup(self) -> None:
        from diffeditor_app.ui.model_setup import ModelSetupDialog

        ModelSetupDialog(self.settings, self).exec()
        self.show_model()

    # -- tasks and tools ----------------------------------------------------------------

    def set_task(self, task: Task) -> None:
        if self.session is None:
            return
        self.session.set_task(task)
        self.task_actions[task].setChecked(True)
        self.fill_action.setEnabled(task is Task.MOVE)
        self.fill_action.setChecked(False)
        self.canvas.mask_name = TASK_MASKS[task]
        self.reference_dock.setVisible(task in {Task.APPEARANCE, Task.PASTE})
        self.set_tool(TASK_TOOLS[task])

    def set_tool(self, name: str) -> None:
        self.canvas.set_tool(name)
        self.tool_actions[name].setChecked(True)

    def set_fill_hint(self, on: bool) -> None:
        if self.session is not None:
            self.canvas.mask_name = MaskName.FILL if on else TASK_MASKS[self.session.task]
            self.set_tool("brush")

    def undo(self) -> None:
        if self.session is not None:
            self.session.undo_stack.undo()

    def redo(self) -> None:
        if self.session is not None:
            self.session.undo_stack.redo()

    def clear_mask(self) -> None:
        if self.session is not None:
            commands.clear_mask(self.session, self.canvas.mask_name)

    def invert_mask(self) -> None:
        if self.session is not None:
            commands.invert_mask(self.session, self.canvas.mask_name)

    def clear_points(self) -> None:
        if self.session is not None:
            commands.clear_pairs(self.session)

    # -- running edits --------------------------------------------------------------------

    def run_edit(self, fresh_seed: bool = False) -> None:
        if self.session is None or self.worker.busy:
            return
        if fresh_seed:
            self.session.set_text(seed=new_seed())
        try:
            request = build_request(self.session)
            preferred = self.settings.get("default_resolution")
            if request.resolution is None and preferred is not None:
                request = replace(request, resolution=preferred)
            request.validate()
        except EngineError as error:
            self.complain("Cannot run the edit", str(error))
            return
        self.job_seed = self.session.state.seed
        self.worker.submit(request, self.model_spec())
        self.edit_panel.set_running(True)

    def cancel_edit(self) -> None:
        self.worker.cancel()

    @Slot(int, str)
    def on_loading(self, job: int, message: str) -> None:
        self.edit_panel.status.setText(message)

    @Slot(int, int, int)
    def on_preparing(self, job: int, done: int, total: int) -> None:
        self.edit_panel.status.setText(f"Preparing the image: {done} of {total}")

    @Slot(int, int, int, float)
    def on_progress(self, job: int, step: int, total: int, remaining: float) -> None:
        self.edit_panel.show_progress(step, total, remaining)

    @Slot(int, object)
    def on_preview(self, job: int, preview) -> None:
        self.canvas.set_preview(preview)

    @Slot(int, object)
    def on_finished(self, job: int, result) -> None:
        self.edit_panel.set_running(False)
        self.canvas.set_preview(None)
        summary = f"seed {self.job_seed} · {result.prepare_s + result.edit_s:.1f} s"
        self.edit_panel.status.setText(f"Done: {summary}. Keep or discard the result below.")
        image = SourceImage.from_pil(result.image, name="result")
        self.session.add_candidate(Candidate(image, self.job_seed, summary))
        self.show_candidate(len(self.session.candidates) - 1)

    @Slot(int, str)
    def on_failed(self, job: int, message: str) -> None:
        self.edit_panel.set_running(False)
        self.canvas.set_preview(None)
        self.edit_panel.status.setText("The edit failed.")
        self.complain("The edit failed", message)

    @Slot(int)
    def on_cancelled(self, job: int) -> None:
        self.edit_panel.set_running(False)
        self.canvas.set_preview(None)
        self.edit_panel.status.setText("Cancelled.")

    def show_candidate(self, index: int) -> None:
        candidates = self.session.candidates if self.session else []
        self.candidate_index = index if 0 <= index < len(candidates) else -1
        chosen = candidates[self.candidate_index] if self.candidate_index >= 0 else None
        self.canvas.set_candidate(chosen.image if chosen else None)
        self._show_candidates()

    def _show_candidates(self) -> None:
        candidates = self.session.candidates if self.session else []
        index = self.candidate_index
        summary = candidates[index].summary if 0 <= index < len(candidates) else ""
        self.candidates.show_candidates(len(candidates), index, summary)

    def keep_candidate(self) -> None:
        if self.session is None or self.candidate_index < 0:
            return
        chosen = self.session.candidates[self.candidate_index]
        commands.keep_result(self.session, chosen.image)
        self.session.candidates.clear()
        self.show_candidate(-1)
        self.autosave()

    def discard_candidate(self) -> None:
        if self.session is None or self.candidate_index < 0:
            return
        self.session.discard_candidate(self.session.candidates[self.candidate_index])
        self.show_candidate(min(self.candidate_index, len(self.session.candidates) - 1))

    # -- safety nets ----------------------------------------------------------------------

    @property
    def autosave_path(self) -> Path:
        return self.data_dir / AUTOSAVE_NAME

    def autosave(self) -> None:
        """After every kept result: a crash loses at most the running edit."""
        try:
            save_project(self.session.state, self.autosave_path)
        except OSError:
            log.exception("autosave failed")

    def offer_recovery(self) -> bool:
        """If the last run left an autosave, offer to reopen it."""
        if not self.autosave_path.is_file():
            return False
        answer = QMessageBox.question(
            self,
            "Restore the last session?",
            "DiffEditor did not close normally last time. Reopen the autosaved session?",
        )
        if answer == QMessageBox.StandardButton.Yes:
            return self.open_project(self.autosave_path)
        self.autosave_path.unlink(missing_ok=True)
        return False

    def complain(self, title: str, message: str) -> None:
        """Errors are sentences in a dialog; the app keeps running. Without a user to answer
        (a screenshot), the sentence is raised instead, so nothing waits on a dialog."""
        log.info("%s: %s", title, message)
        if not self.interactive:
            raise InvalidInput(f"{title}: {message}")
        QMessageBox.warning(self, title, message)

    # -- events ---------------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:
        """Hold backslash to compare with the original (the canvas lets the key through)."""
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.canvas.show_original(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.canvas.show_original(False)
            return
        super().keyReleaseEvent(event)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(Path(url.toLocalFile()))
                event.acceptProposedAction()
                return

    def closeEvent(self, event) -> None:
        self.worker.shutdown()
        self.autosave_path.unlink(missing_ok=True)  # a clean exit needs no recovery
        super().closeEvent(event)
