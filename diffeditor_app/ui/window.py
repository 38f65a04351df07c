"""The main window: canvas, tools, task switcher, panels, menus; edits go to the worker.

The window owns no document data: it holds the open `EditSession`, shows it through the
canvas and panels, and changes it only through undo commands.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QToolBar,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from diffeditor_app.document import commands
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import MaskName
from diffeditor_app.document.tasks import DOCUMENT_TASKS
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.models.loading import declared_profile, is_toy_model
from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.settings import Quality
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.runtime.landmarks import LandmarkClient
from diffeditor_app.runtime.model_defaults import DefaultsSource
from diffeditor_app.runtime.selection import SelectionClient
from diffeditor_app.ui.canvas import Canvas
from diffeditor_app.ui.edit_controller import EditController
from diffeditor_app.ui.face_panel import FacePanel
from diffeditor_app.ui.file_controller import AUTOSAVE_DELAY_MS, AUTOSAVE_NAME, FileController
from diffeditor_app.ui.keys import KeyRouter
from diffeditor_app.ui.panels import CandidatesBar, EditPanel
from diffeditor_app.ui.selection_tools import SelectionController
from diffeditor_app.ui.status_bar import StatusBar
from diffeditor_app.ui.tasks import VIEWS, needs_painting, uses_fill_hint
from diffeditor_app.ui.tool_bar import tool_bar
from diffeditor_app.ui.tool_options import ToolOptions

log = logging.getLogger(__name__)

TOY_NOTE = (
    "The toy model knows only its small synthetic shape scenes; this image is not one "
    "(it is larger than the toy's {high} px), so expect blobs. Set up Stable Diffusion 1.5 "
    "in Settings > Model setup for photos."
)
REFERENCE_MIN_PX = 160  # the reference canvas: its object or its face's points must show
HISTORY_ROWS = 12  # the History panel shows at least this many steps
FOLLOWED = ("cache_folder", "edit_quality")  # preferences the window applies when changed


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings,
        worker,
        data_dir: Path,
        model: ModelSpec | None = None,
        autosave_name: str = AUTOSAVE_NAME,
        interactive: bool = True,
        autosave_delay_ms: int = AUTOSAVE_DELAY_MS,
    ) -> None:
        """`interactive=False` (a screenshot): problems raise InvalidInput, never a dialog,
        and closing asks nothing."""
        super().__init__()
        self.interactive = interactive
        self.settings = settings
        self.worker = worker
        self.data_dir = Path(data_dir)
        self.model_override = model
        self.session: EditSession | None = None
        self.files = FileController(
            self, self, settings, data_dir, autosave_name, interactive, autosave_delay_ms
        )
        self.files.opened.connect(self._update_title)
        self._update_title()
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.canvas = Canvas(self)
        selecting = SelectionClient(self.worker.thread, self)  # in the thread owning the models
        self.selection = SelectionController(self.canvas, settings, selecting, self)
        self.setCentralWidget(self._central())
        self.edit_panel = EditPanel()
        self.defaults = DefaultsSource(self)  # of the model that will run the edit
        self.defaults.changed.connect(self.edit_panel.set_defaults)
        self.face_panel = FacePanel(LandmarkClient(self))
        self.reference_canvas = Canvas()
        self.reference_canvas.set_target("reference")
        self.reference_canvas.set_tool("brush")
        self.reference_canvas.mask_name = MaskName.REFERENCE
        self.reference_canvas.setMinimumHeight(REFERENCE_MIN_PX)
        self.history = QUndoView()
        self.history.setMinimumHeight(self.history.fontMetrics().height() * HISTORY_ROWS)
        self._docks()
        self._actions()
        self._status()
        self._connect_edits()
        canvases = (self.canvas, self.reference_canvas)  # brush size, hardness, opacity
        self.tool_options = ToolOptions(settings, canvases, self.brush_label, self._image, self)
        for key in FOLLOWED:
            self._follow_setting(key)
        self.settings.changed.connect(self._follow_setting)
        self.set_session(None)
        if interactive:
            self._restore_geometry()
        self.keys = KeyRouter(self)  # window-wide: fields, hold-to-compare, after dialogs

    def _restore_geometry(self) -> None:
        """The size and place the window had when it was last closed."""
        saved = self.settings.get("window_geometry")
        if saved:
            self.restoreGeometry(QByteArray.fromBase64(saved.encode()))

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
        self.face_dock = dock("Face", self.face_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.task_docks = {"Reference": self.reference_dock, "Face": self.face_dock}
        self.history_dock = dock("History", self.history, right)
        self.canvas.addActions(self.candidates.key_actions)  # Return, K, Delete, D, R
        for button in (*self.edit_panel.buttons(), *self.candidates.buttons()):
            button.clicked.connect(self.focus_canvas)  # keys go back to the canvas
        self.edit_panel.typing_done.connect(self.focus_canvas)

    def _action(self, menu, text: str, slot, *shortcuts) -> QAction:
        """A menu entry; its shortcuts are written out, because several standard keys are
        empty outside KDE and GNOME (Quit has none on Windows or a bare X server)."""
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(shortcut) for shortcut in shortcuts])
        action.triggered.connect(lambda: slot())  # Qt's `checked` never reaches a path or value
        menu.addAction(action)
        return action

    def _actions(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        files = self.files
        self._action(file, "&New (close the image)", files.new_session, "Ctrl+N")
        self._action(file, "&Open image…", files.choose_image, "Ctrl+O")
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(lambda: files.fill_recent(self.recent_menu))
        self._action(file, "Open &project…", files.choose_project, "Ctrl+Shift+O")
        file.addSeparator()
        self._action(file, "&Save project", files.save_project, "Ctrl+S")
        self._action(file, "Save project &as…", files.save_project_as, "Ctrl+Shift+S")
        self._action(file, "&Export image as…", files.export_image, "Ctrl+E")
        file.addSeparator()
        self.quit_action = self._action(file, "&Quit", self.close, "Ctrl+Q")
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)

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
        self.mask_visible = QAction("Show &mask", self, checkable=True, checked=True)
        self.mask_visible.setShortcut(QKeySequence("M"))
        self.mask_visible.toggled.connect(self.canvas.set_mask_visible)
        view.addAction(self.mask_visible)
        view.addAction(self.history_dock.toggleViewAction())
        for holder in self.task_docks.values():
            view.addAction(holder.toggleViewAction())

        tasks = QToolBar("Tasks", self)
        tasks.setObjectName("tasks")
        self.addToolBar(tasks)
        self.task_actions: dict[Task, QAction] = {}
        group = QActionGroup(self)
        for task, view in VIEWS.items():
            action = QAction(view.label, self, checkable=True)
            action.triggered.connect(lambda _=False, t=task: self.set_task(t))
            group.addAction(action)
            tasks.addAction(action)
            self.task_actions[task] = action

        tools, self.tool_actions = tool_bar(self, self.set_tool)
        self.addToolBar(tools)
        self.addToolBarBreak()  # the options get their own row: the tool row is full
        self.addToolBar(self.selection.options_bar())
        fill = QAction("Fill hint", self, checkable=True)
        fill.setToolTip("Brush paints what should fill the vacated area (Move)")
        fill.toggled.connect(self.set_fill_hint)
        tools.addAction(fill)
        self.fill_action = fill

    def _status(self) -> None:
        bar = StatusBar(self)  # notes end at a word, in full in their tooltip
        self.setStatusBar(bar)
        self.brush_label, self.size_label = bar.brush_label, bar.size_label
        self.zoom_label, self.model_label = bar.zoom_label, bar.model_label
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.show_model()

    def show_model(self) -> None:
        """The model in the status bar, and its tuned numbers as the Advanced defaults."""
        spec = self.model_spec()
        where = f"{spec.device} · {spec.source}"
        if self.settings.get("run_on") == "server":
            where = f"server · {self.settings.get('server_url') or '(no URL set)'}"
        self.model_label.setText(where)
        self.defaults.follow_settings(self.settings, declared_profile(spec.source))
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

    def _follow_setting(self, key: str) -> None:
        """Preferences that act at once: the weight cache folder, and the quality the Edit
        panel shows and runs where a session chose none."""
        from diffeditor_app.runtime.weights import apply_cache_folder

        if key == "cache_folder":
            apply_cache_folder(self.settings.get("cache_folder"))
        elif key == "edit_quality":
            self.edit_panel.set_default_quality(Quality(self.settings.get("edit_quality")))

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
        self.files.autosave()
        self.focus_canvas()

    # -- session ------------------------------------------------------------------------

    def _image(self):
        return self.session.image if self.session is not None else None

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
        self.face_panel.set_session(session)
        self.history.setStack(session.undo_stack if session else None)
        self.edits.set_session(session)
        for action in (*self.task_actions.values(), *self.tool_actions.values()):
            action.setEnabled(session is not None)
        self.fill_action.setEnabled(False)  # set_task below shows what the session's task uses
        for holder in self.task_docks.values():
            holder.setVisible(False)
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
        self.tool_options.show()
        self.set_task(session.task)
        self.canvas.fit()
        self.focus_canvas()

    def _update_size(self) -> None:
        image = self.session.image
        self.size_label.setText(f"{image.width} × {image.height}")
        self._note_model_fit()

    # -- unsaved work ---------------------------------------------------------------------

    def _update_title(self, *_) -> None:
        name = self.files.document_name() if self.session is not None else None
        self.setWindowTitle(f"{name}[*] — DiffEditor" if name else "DiffEditor")
        self.setWindowModified(self.files.is_modified())

    def choose_reference(self) -> None:
        if self.files.choose_reference():
            self.reference_canvas.fit()
        self.focus_canvas()

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
        if self.session is None and is_toy_model(self.model_spec().source):
            from diffeditor_app.ui.app import prepare_demo

            prepare_demo(self)  # the toy edits only its scenes: open one to try

    # -- tasks and tools ----------------------------------------------------------------

    def set_task(self, task: Task) -> None:
        if self.session is None:
            return
        self.edit_panel.commit()  # the prompt typed so far belongs to the task left
        self.session.set_task(task)
        self.settings.remember("last_task", task.value)
        self.task_actions[task].setChecked(True)
        self.fill_action.setEnabled(uses_fill_hint(task))
        self.fill_action.setChecked(False)
        self.canvas.mask_name = DOCUMENT_TASKS[task].brush_mask
        for title, holder in self.task_docks.items():
            holder.setVisible(title in VIEWS[task].docks)
        self.set_tool(self._tool_for(task))
        self._forget_note()  # a finished edit's note belongs to its task
        self.focus_canvas()

    def _tool_for(self, task: Task) -> str:
        """The task's own tool (ui/tasks.py); the brush while the mask it needs is still
        empty, since there is nothing to move or drag yet."""
        brush_mask = DOCUMENT_TASKS[task].brush_mask
        painted = not needs_painting(task) or self.session.mask(brush_mask).any()
        return VIEWS[task].tool if painted else "brush"

    def set_tool(self, name: str) -> None:
        name = self.selection.tool_chosen(name, self.canvas.tool)
        self.canvas.set_tool(name)
        self.tool_actions[name].setChecked(True)

    def set_fill_hint(self, on: bool) -> None:
        if self.session is not None:
            brush_mask = DOCUMENT_TASKS[self.session.task].brush_mask
            self.canvas.mask_name = MaskName.FILL if on else brush_mask
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
            commands.clear_points(self.session)

    @Slot()
    def focus_canvas(self) -> None:
        """Keys belong to the canvas after any button: tool keys never type into a field,
        and Ctrl+Z undoes the document, not the last typing."""
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- safety nets ----------------------------------------------------------------------

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

    def show_note(self, text: str, ms: int) -> None:
        self.statusBar().showMessage(text, ms)

    # -- events ---------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                event.acceptProposedAction()
                self.files.open_asking(Path(url.toLocalFile()))
                return

    def closeEvent(self, event) -> None:
        if not self.files.confirm_discard("quitting"):
            event.ignore()
            return
        self.keys.stop()
        if self.interactive:
            geometry = self.saveGeometry().toBase64().data().decode()
            self.settings.remember("window_geometry", geometry)
        busy = "Cancelling the edit and stopping" if self.worker.busy else "Stopping"
        self.statusBar().showMessage(f"{busy} the edit worker…")
        self.statusBar().repaint()  # seen before the wait below
        self.worker.shutdown()
        self.selection.client.shutdown()
        self.face_panel.client.shutdown()
        self.files.close()  # a clean exit needs no recovery
        super().closeEvent(event)
