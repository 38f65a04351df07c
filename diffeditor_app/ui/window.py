"""The main window: canvas, tools, task switcher, panels, menus; edits go to the worker.

The window owns no document data: it holds the open `EditSession`, shows it through the
canvas and panels, and changes it only through undo commands.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTextEdit,
    QToolBar,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from diffeditor_app.document import commands
from diffeditor_app.document.project import load_project, save_project
from diffeditor_app.document.session import TASK_MASK, EditSession, MaskName
from diffeditor_app.engine.errors import EngineError, InvalidInput
from diffeditor_app.engine.imaging.images import load_image
from diffeditor_app.engine.imaging.outputs import UserFiles, export_image
from diffeditor_app.engine.models.loading import declared_profile, is_toy_model
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.settings import Task
from diffeditor_app.ui.canvas import Canvas
from diffeditor_app.ui.edit_controller import EditController
from diffeditor_app.ui.panels import TASK_LABELS, CandidatesBar, EditPanel
from diffeditor_app.ui.selection_tools import SELECTION_TOOLS, SelectionController

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp *.gif)"
PROJECT_FILTER = "DiffEditor projects (*.diffedit)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)"
PROJECT_SUFFIX = ".diffedit"
AUTOSAVE_NAME = "autosave.diffedit"  # in the app's data folder; never a file the user saved
DEMO_AUTOSAVE_NAME = "demo-autosave.diffedit"  # --demo keeps its own slot
RECOVERED_TITLE = "Untitled (recovered)"
TOY_NOTE = (
    "The toy model knows only its small synthetic shape scenes; this image is not one "
    "(it is larger than the toy's {high} px), so expect blobs. Set up Stable Diffusion 1.5 "
    "in Settings > Model setup for photos."
)
TEXT_INPUTS = (QLineEdit, QAbstractSpinBox, QTextEdit)  # where typed keys are text
STATUS_NOTE_MS = 10_000  # long enough to read a note about what an export could not keep
TASK_TOOLS = {Task.MOVE: "brush", Task.DRAG: "brush", Task.APPEARANCE: "brush", Task.PASTE: "paste"}
TOOLS = (
    ("brush", "Brush", "B"),
    ("eraser", "Eraser", "E"),
    ("points", "Points", "P"),
    ("box", "Move box", "V"),
    ("paste", "Paste layer", "L"),
    ("pan", "Pan", "H"),
    *SELECTION_TOOLS,
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
        autosave_name: str = AUTOSAVE_NAME,
        interactive: bool = True,
    ) -> None:
        """`interactive=False` (a screenshot): problems raise InvalidInput, never a dialog,
        and closing asks nothing."""
        super().__init__()
        self.interactive = interactive
        self.settings = settings
        self.worker = worker
        self.data_dir = Path(data_dir)
        self.model_override = model
        self.autosave_name = autosave_name
        self.session: EditSession | None = None
        self.image_path: Path | None = None
        self.reference_path: Path | None = None
        self.project_path: Path | None = None
        self.recovered = False  # an autosave reopened: unsaved until the user saves it
        self._update_title()
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.canvas = Canvas(self)
        self.selection = SelectionController(self.canvas, settings, self._selection_client(), self)
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
        self._connect_edits()
        self._bind_tool_options()
        self._follow_cache_folder()
        self.settings.changed.connect(self._follow_cache_folder)
        self.set_session(None)
        if interactive:
            self._restore_geometry()
        QApplication.instance().installEventFilter(self)  # hold-to-compare, window-wide

    def _restore_geometry(self) -> None:
        """The size and place the window had when it was last closed."""
        saved = self.settings.get("window_geometry")
        if saved:
            self.restoreGeometry(QByteArray.fromBase64(saved.encode()))

    def _selection_client(self):
        """Selections run in the edit worker's thread, which owns the models."""
        from diffeditor_app.runtime.selection import SelectionClient

        return SelectionClient(self.worker.thread, self)

    # -- layout ---------------------------------------------------------------------------

    def _central(self) -> QWidget:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        self.candidates = CandidatesBar()
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.candidates)
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
        for button in (*self.edit_panel.buttons(), *self.candidates.buttons()):
            button.clicked.connect(self.focus_canvas)  # keys go back to the canvas
        self.edit_panel.typing_done.connect(self.focus_canvas)

    def _action(self, menu, text: str, slot, *shortcuts) -> QAction:
        """A menu entry; its shortcuts are written out, because several standard keys are
        empty outside KDE and GNOME (Quit has none on Windows or a bare X server)."""
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(shortcut) for shortcut in shortcuts])
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _actions(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New (close the image)", self.new_session, "Ctrl+N")
        self._action(file, "&Open image…", self.choose_image, "Ctrl+O")
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file, "Open &project…", self.choose_project, "Ctrl+Shift+O")
        file.addSeparator()
        self._action(file, "&Save project", self.save_project, "Ctrl+S")
        self._action(file, "Save project &as…", self.save_project_as, "Ctrl+Shift+S")
        self._action(file, "&Export image as…", self.export_image, "Ctrl+E")
        file.addSeparator()
        self.quit_action = self._action(file, "&Quit", self.close, "Ctrl+Q")

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, "Ctrl+Z")
        self.redo_action = self._action(edit, "&Redo", self.redo, "Ctrl+Shift+Z", "Ctrl+Y")
        edit.addSeparator()
        self._action(edit, "&Clear mask", self.clear_mask, "Ctrl+Backspace")
        self._action(edit, "&Invert mask", self.invert_mask, "Ctrl+I")
        self._action(edit, "Clear &points", self.clear_points, "Ctrl+Shift+Backspace")

        self.selection.add_menu(bar.addMenu("&Select"))
        self.selection.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.selection.setup_wanted.connect(self.show_model_setup)

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
        self.addToolBarBreak()  # the options get their own row: the tool row is full
        self.addToolBar(self.selection.options_bar())
        fill = QAction("Fill hint", self, checkable=True)
        fill.setToolTip("Brush paints what should fill the vacated area (Move)")
        fill.toggled.connect(self.set_fill_hint)
        tools.addAction(fill)
        self.fill_action = fill

    def _status(self) -> None:
        self.size_label, self.zoom_label, self.model_label = QLabel(), QLabel(), QLabel()
        self.brush_label = QLabel()
        self.brush_label.setToolTip("Brush size: [ and ] change it")
        for label in (self.brush_label, self.size_label, self.zoom_label, self.model_label):
            self.statusBar().addPermanentWidget(label)
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.show_model()

    def show_model(self) -> None:
        """The model in the status bar, and its tuned numbers as the Advanced defaults."""
        spec = self.model_spec()
        where = f"{spec.device} · {spec.source}"
        if self.settings.get("run_on") == "server":
            where = f"server · {self.settings.get('server_url') or '(no URL set)'}"
        self.model_label.setText(where)
        self.edit_panel.set_profile(declared_profile(spec.source))
        self._note_model_fit()

    def _note_model_fit(self) -> None:
        """The toy model edits only toy scenes: say so in the status bar when the image
        is not one (larger than the toy's resolution range)."""
        if self.session is None:
            return
        source = self.model_spec().source
        image = self.session.image
        if is_toy_model(source):
            high = declared_profile(source).resolution_range[1]
            if max(image.width, image.height) > high:
                self.statusBar().showMessage(TOY_NOTE.format(high=high))

    def _bind_tool_options(self) -> None:
        """Brush size, hardness and mask opacity are preferences, not undo steps: both
        canvases follow the settings, and `[` / `]` on a canvas write back to them."""

        def refresh(key: str = "") -> None:
            for canvas in (self.canvas, self.reference_canvas):
                canvas.brush_size = self.settings.get("brush_size")
                canvas.brush_hardness = self.settings.get("brush_hardness")
                canvas.mask_opacity = self.settings.get("mask_opacity")
            self.brush_label.setText(f"Brush {self.canvas.brush_size} px")

        refresh()
        self.settings.changed.connect(refresh)
        for canvas in (self.canvas, self.reference_canvas):
            canvas.brush_size_changed.connect(partial(self.settings.remember, "brush_size"))

    def _follow_cache_folder(self, key: str = "cache_folder") -> None:
        from diffeditor_app.runtime.weights import apply_cache_folder

        if key == "cache_folder":
            apply_cache_folder(self.settings.get("cache_folder"))

    def _connect_edits(self) -> None:
        """Running edits and choosing results belong to the edit controller; the window
        shows what it reports."""
        self.edits = EditController(
            self.worker,
            self.edit_panel,
            self.candidates,
            self.canvas,
            self.model_spec,
            lambda: self.settings.get("default_resolution"),
            lambda: self.settings.get("live_previews"),
            self.settings.server,
            self,
        )
        self.edits.problem.connect(self.complain)
        self.edits.note.connect(self.statusBar().showMessage)
        self.edits.submitted.connect(self._note_model_fit)
        self.edits.kept.connect(self._after_keep)

    def _after_keep(self) -> None:
        """After every kept result: autosave, and the keys go back to the canvas."""
        self.autosave()
        self.focus_canvas()

    # -- session ------------------------------------------------------------------------

    def model_spec(self) -> ModelSpec:
        return self.model_override or self.settings.model_spec()

    def set_session(self, session: EditSession | None) -> None:
        old = self.session
        if old is not None:
            old.undo_stack.cleanChanged.disconnect(self._update_title)
            old.candidates_changed.disconnect(self._update_title)
            old.image_changed.disconnect(self._update_size)
        self.session = session
        self.canvas.set_session(session)
        self.reference_canvas.set_session(session)
        self.edit_panel.set_session(session)
        self.history.setStack(session.undo_stack if session else None)
        self.edits.set_session(session)
        for action in (*self.task_actions.values(), *self.tool_actions.values()):
            action.setEnabled(session is not None)
        self.fill_action.setEnabled(session is not None and session.task is Task.MOVE)
        self.reference_dock.setVisible(
            session is not None and session.task in {Task.APPEARANCE, Task.PASTE}
        )
        if old is not None:
            old.deleteLater()  # its undo stack and commands go with it, in this thread
        self._update_title()
        if session is None:
            self.size_label.setText("No image: open one with Ctrl+O or drop it here")
            return
        session.undo_stack.cleanChanged.connect(self._update_title)
        session.candidates_changed.connect(self._update_title)
        session.image_changed.connect(self._update_size)
        self._update_size()
        self.set_task(session.task)
        self.canvas.fit()
        self.focus_canvas()

    def _update_size(self) -> None:
        image = self.session.image
        self.size_label.setText(f"{image.width} × {image.height}")
        self._note_model_fit()

    # -- unsaved work ---------------------------------------------------------------------

    def document_name(self) -> str:
        if self.project_path is not None:
            return self.project_path.name
        if self.recovered:
            return RECOVERED_TITLE
        if self.image_path is not None:
            return self.image_path.name
        return "Untitled"

    def is_modified(self) -> bool:
        """Unsaved strokes, settings, kept results or results still waiting below the
        canvas, or a recovered session not yet saved by the user."""
        session = self.session
        if session is None:
            return False
        return self.recovered or not session.undo_stack.isClean() or bool(session.candidates)

    def _update_title(self, *_) -> None:
        name = self.document_name() if self.session is not None else None
        self.setWindowTitle(f"{name}[*] — DiffEditor" if name else "DiffEditor")
        self.setWindowModified(self.is_modified())

    def confirm_discard(self, doing: str) -> bool:
        """Ask Save / Discard / Cancel when there is unsaved work; True to go on. A window
        without a user (a screenshot's) has no one to ask and no work of the user's."""
        if not self.is_modified() or not self.interactive:
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to “{self.document_name()}” before {doing}?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )
        if answer == buttons.Save:
            return self.save_project()
        return answer == buttons.Discard

    def _opened(
        self, session: EditSession | None, image: Path | None, project: Path | None
    ) -> None:
        self.image_path, self.project_path, self.recovered = image, project, False
        self.set_session(session)

    def open_image(self, path: Path) -> bool:
        try:
            image = load_image(path)
        except EngineError as error:
            self.complain("Cannot open the image", str(error))
            return False
        session = EditSession.open(image, self)
        session.set_task(Task(self.settings.get("last_task")))  # where the user left off
        self._opened(session, Path(path), None)
        self.settings.add_recent(str(path))
        return True

    def open_project(self, path: Path) -> bool:
        try:
            state = load_project(path)
        except EngineError as error:
            self.complain("Cannot open the project", str(error))
            return False
        self._opened(EditSession(state, self), None, Path(path))
        self.settings.add_recent(str(path))
        return True

    def open_path(self, path: Path) -> bool:
        if Path(path).suffix == PROJECT_SUFFIX:
            return self.open_project(path)
        return self.open_image(path)

    def open_asking(self, path: Path) -> bool:
        """Open a file the user named (recent, dropped) after the unsaved-work question."""
        return self.confirm_discard("opening another file") and self.open_path(path)

    def new_session(self) -> None:
        """Close the image (after the unsaved-work question): back to the empty window."""
        if self.confirm_discard("closing it"):
            self._opened(None, None, None)

    def choose_image(self) -> None:
        if not self.confirm_discard("opening another image"):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", IMAGE_FILTER)
        if path:
            self.open_image(Path(path))

    def choose_project(self) -> None:
        if not self.confirm_discard("opening a project"):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", PROJECT_FILTER)
        if path:
            self.open_project(Path(path))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for entry in self.settings.get("recent_files"):
            action = self.recent_menu.addAction(entry)
            action.setData(entry)
            action.triggered.connect(self._open_recent)
        self.recent_menu.setEnabled(bool(self.settings.get("recent_files")))

    @Slot()
    def _open_recent(self) -> None:
        self.open_asking(Path(self.sender().data()))

    def choose_reference(self) -> None:
        if self.session is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load reference", "", IMAGE_FILTER)
        if path:
            self.load_reference(Path(path))
        self.focus_canvas()

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

    def save_project(self) -> bool:
        """Save to the project's file; a session without one (an image, a recovered
        session) asks where. True when saved."""
        if self.session is None:
            return False
        if self.project_path is None:
            return self.save_project_as()
        try:
            save_project(self.session.state, self.project_path)
        except OSError as error:
            self.complain("Cannot save the project", str(error))
            return False
        self.recovered = False
        self.session.undo_stack.setClean()
        self.settings.add_recent(str(self.project_path))
        self._update_title()
        self.statusBar().showMessage(f"Saved {self.project_path}", 4000)
        return True

    def save_project_as(self, path: Path | None = None) -> bool:
        if self.session is None:
            return False
        if path is None:
            start = self.image_path.with_suffix(PROJECT_SUFFIX) if self.image_path else Path()
            if self.project_path is not None:
                start = self.project_path
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Save project", str(start), PROJECT_FILTER
            )
            if not chosen:
                return False
            path = Path(chosen)
        path = Path(path).with_suffix(PROJECT_SUFFIX)
        if path.resolve() == self.autosave_path.resolve():
            self.complain("Not saved", "That is DiffEditor's own autosave; choose another name.")
            return False
        previous, self.project_path = self.project_path, path
        if not self.save_project():
            self.project_path = previous
            return False
        return True

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

        dialog = PreferencesDialog(self.settings, self)
        if dialog.exec():
            self.show_model()
        dialog.deleteLater()

    def show_model_setup(self) -> None:
        from diffeditor_app.ui.model_setup import ModelSetupDialog

        dialog = ModelSetupDialog(self.settings, self)
        dialog.exec()
        dialog.deleteLater()
        self.show_model()

    # -- tasks and tools ----------------------------------------------------------------

    def set_task(self, task: Task) -> None:
        if self.session is None:
            return
        self.edit_panel.commit()  # the prompt typed so far belongs to the task left
        self.session.set_task(task)
        self.settings.remember("last_task", task.value)
        self.task_actions[task].setChecked(True)
        self.fill_action.setEnabled(task is Task.MOVE)
        self.fill_action.setChecked(False)
        self.canvas.mask_name = TASK_MASK[task]
        self.reference_dock.setVisible(task in {Task.APPEARANCE, Task.PASTE})
        self.set_tool(TASK_TOOLS[task])
        self._forget_note()  # a finished edit's note belongs to its task
        self.focus_canvas()

    def set_tool(self, name: str) -> None:
        name = self.selection.tool_chosen(name, self.canvas.tool)
        self.canvas.set_tool(name)
        self.tool_actions[name].setChecked(True)

    def set_fill_hint(self, on: bool) -> None:
        if self.session is not None:
            self.canvas.mask_name = MaskName.FILL if on else TASK_MASK[self.session.task]
            self.set_tool("brush")

    def undo(self) -> None:
        if self.session is not None:
            self.session.undo_stack.undo()
            self._forget_note()

    def redo(self) -> None:
        if self.session is not None:
            self.session.undo_stack.redo()
            self._forget_note()

    def _forget_note(self) -> None:
        """A note about the last edit ("Kept. …") no longer holds once history moves."""
        if not self.worker.busy:
            self.edit_panel.status.setText("")

    def clear_mask(self) -> None:
        if self.session is not None:
            commands.clear_mask(self.session, self.canvas.mask_name)

    def invert_mask(self) -> None:
        if self.session is not None:
            commands.invert_mask(self.session, self.canvas.mask_name)

    def clear_points(self) -> None:
        if self.session is not None:
            commands.clear_pairs(self.session)

    @Slot()
    def focus_canvas(self) -> None:
        """Keys belong to the canvas after any button: tool keys never type into a field,
        and Ctrl+Z undoes the document, not the last typing."""
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- safety nets ----------------------------------------------------------------------

    @property
    def autosave_path(self) -> Path:
        """The app's own file in its data folder: never a file the user saved to."""
        return self.data_dir / self.autosave_name

    def autosave(self) -> None:
        """After every kept result: a crash loses at most the running edit."""
        try:
            save_project(self.session.state, self.autosave_path)
        except OSError:
            log.exception("autosave failed")

    def offer_recovery(self) -> bool:
        """If the last run left an autosave, offer to reopen it as an unsaved, untitled
        session: Save then asks where, so the autosave is never the user's file."""
        if not self.autosave_path.is_file():
            return False
        answer = QMessageBox.question(
            self,
            "Restore the last session?",
            "DiffEditor did not close normally last time. Reopen the autosaved session?",
        )
        if answer == QMessageBox.StandardButton.Yes:
            try:
                state = load_project(self.autosave_path)
            except EngineError as error:
                self.complain("Cannot restore the session", str(error))
                return False
            self._opened(EditSession(state, self), None, None)
            self.recovered = True
            self._update_title()
            return True
        self.autosave_path.unlink(missing_ok=True)
        return False

    def show_settings_problems(self) -> None:
        """What loading the preferences had to fix, said once."""
        problems, self.settings.problems = self.settings.problems, []
        if problems:
            self.complain("Preferences were repaired", " ".join(problems))

    def complain(self, title: str, message: str) -> None:
        """Errors are sentences in a dialog; the app keeps running. Without a user to answer
        (a screenshot), the sentence is raised instead, so nothing waits on a dialog."""
        log.info("%s: %s", title, message)
        if not self.interactive:
            raise InvalidInput(f"{title}: {message}")
        QMessageBox.warning(self, title, message)

    # -- events ---------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Hold backslash to compare with the original, wherever the focus is in this
        active window, except in a text field (where a backslash is text)."""
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            if event.key() == Qt.Key.Key_Backslash and self._compare_key_applies():
                if not event.isAutoRepeat():
                    self.canvas.show_original(kind == QEvent.Type.KeyPress)
                return True
        elif kind == QEvent.Type.WindowDeactivate and watched is self:
            self.canvas.show_original(False)
        return False

    def _compare_key_applies(self) -> bool:
        if not self.isActiveWindow():
            return False
        focus = QApplication.focusWidget()
        return not isinstance(focus, TEXT_INPUTS) or focus.window() is not self

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                event.acceptProposedAction()
                self.open_asking(Path(url.toLocalFile()))
                return

    def closeEvent(self, event) -> None:
        if not self.confirm_discard("quitting"):
            event.ignore()
            return
        QApplication.instance().removeEventFilter(self)
        if self.interactive:
            self.settings.remember(
                "window_geometry", self.saveGeometry().toBase64().data().decode()
            )
        self.worker.shutdown()
        self.selection.client.shutdown()
        self.autosave_path.unlink(missing_ok=True)  # a clean exit needs no recovery
        super().closeEvent(event)
