"""Files, apart from the window's canvas and panels: open, save, save as, export, the
unsaved-work question, the autosave and the recovery after a crash.

The controller knows which file the open session came from and where it was saved; the
window shows the session it is handed (`FileHost.set_session`) and says what went wrong.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from diffeditor_app.document.project import load_project, project_origin, save_project
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import BBox, MaskName, SessionState
from diffeditor_app.engine.errors import EngineError, InvalidInput
from diffeditor_app.engine.imaging.images import load_image
from diffeditor_app.engine.imaging.outputs import UserFiles, export_image
from diffeditor_app.engine.tasks.registry import Task

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp *.gif)"
PROJECT_FILTER = "DiffEditor projects (*.diffedit)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)"
PROJECT_SUFFIX = ".diffedit"
AUTOSAVE_NAME = "autosave.diffedit"  # in the app's data folder; never a file the user saved
DEMO_AUTOSAVE_NAME = "demo-autosave.diffedit"  # --demo keeps its own slot
AUTOSAVE_DELAY_MS = 30_000  # a crash loses at most this much of the user's set-up
RECOVERED_TITLE = "Untitled (recovered)"
STATUS_NOTE_MS = 10_000  # long enough to read a note about what an export could not keep
APP_FOLDER = Path(__file__).resolve().parents[2]  # the app's own files: never a save folder


def proposed_name(path: Path) -> Path:
    """`photo.jpg` -> `photo-edited.png`, then `photo-edited-2.png`, ...: never the original."""
    candidate = path.with_name(f"{path.stem}-edited.png")
    number = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-edited-{number}.png")
        number += 1
    return candidate


def user_folder() -> Path:
    """The user's own pictures folder, else their documents, else their home."""
    for kind in (
        QStandardPaths.StandardLocation.PicturesLocation,
        QStandardPaths.StandardLocation.DocumentsLocation,
    ):
        folder = Path(QStandardPaths.writableLocation(kind) or "")
        if folder != Path() and folder.is_dir():
            return folder
    return Path.home()


def save_folder(near: Path | None) -> Path:
    """Where a Save dialog starts: beside the user's file, but never inside the app's own
    folder (the demo's sample scene lives there)."""
    if near is None or near.resolve().is_relative_to(APP_FOLDER):
        return user_folder()
    return near.parent


class FileHost(Protocol):
    """What the controller needs of the window: show a session, say a problem, a note."""

    session: EditSession | None

    def set_session(self, session: EditSession | None) -> None: ...

    def complain(self, title: str, message: str) -> None: ...

    def show_note(self, text: str, ms: int) -> None: ...


class MaskCopies:
    """The autosave's own copy of the session's masks, brought up to date region by region:
    a stroke changes a few pixels of a mask, so an autosave copies those few (a full copy of
    a 4096 px image's masks would hold the GUI thread for over 20 ms)."""

    def __init__(self) -> None:
        self.copies: dict[MaskName, np.ndarray] = {}
        self.changed: dict[MaskName, BBox | None] = {}  # None: the whole mask

    def restart(self, masks: dict[MaskName, np.ndarray]) -> None:
        """Copy everything: a session was just opened (that took longer than this)."""
        self.copies = {name: mask.copy() for name, mask in masks.items()}
        self.changed.clear()

    def note(self, name: str, bbox: BBox | None) -> None:
        """Grow the region of `name` to copy by `bbox`."""
        key = MaskName(name)
        if key in self.changed and (self.changed[key] is None or bbox is None):
            self.changed[key] = None
        elif key in self.changed:
            old = self.changed[key]
            self.changed[key] = (
                min(old[0], bbox[0]),
                min(old[1], bbox[1]),
                max(old[2], bbox[2]),
                max(old[3], bbox[3]),
            )
        else:
            self.changed[key] = bbox

    def update(self, masks: dict[MaskName, np.ndarray]) -> dict[MaskName, np.ndarray]:
        """The copies, equal to `masks` again; only what changed since is copied."""
        for name, mask in masks.items():
            copy = self.copies.get(name)
            if copy is None or copy.shape != mask.shape:
                self.copies[name] = mask.copy()
            elif name in self.changed:
                x0, y0, x1, y1 = self.changed[name] or (0, 0, mask.shape[1], mask.shape[0])
                copy[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
        for gone in set(self.copies) - set(masks):
            del self.copies[gone]
        self.changed.clear()
        return dict(self.copies)


class Autosaver(QObject):
    """Writes the session to the app's own file within `delay_ms` of any change. The GUI
    thread only brings its mask copies up to date and copies the lists; encoding and
    writing (atomically, through a temporary file) happen in a background thread."""

    def __init__(self, path: Path, delay_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.origin: Path | None = None  # the user's file the session came from
        self.session: EditSession | None = None
        self.masks = MaskCopies()
        self.timer = QTimer(self, singleShot=True, interval=delay_ms)
        self.timer.timeout.connect(self.save_now)
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self.pending: Future | None = None
        self.gui_ms = 0.0  # the GUI thread's share of the last autosave

    def watch(self, session: EditSession | None, origin: Path | None) -> None:
        """Follow every change of `session`: strokes, box, points, layers (undo commands),
        prompts, seed and options, and the task."""
        if self.session is not None:
            self.session.undo_stack.indexChanged.disconnect(self.schedule)
            self.session.text_changed.disconnect(self.schedule)
            self.session.task_changed.disconnect(self.schedule)
            self.session.mask_changed.disconnect(self.masks.note)
        self.wait()  # the copies are the writer's until it is done
        self.session, self.origin = session, origin
        self.timer.stop()
        if session is not None:
            self.masks.restart(session.state.masks)
            session.undo_stack.indexChanged.connect(self.schedule)
            session.text_changed.connect(self.schedule)
            session.task_changed.connect(self.schedule)
            session.mask_changed.connect(self.masks.note)

    @Slot()
    def schedule(self, *_) -> None:
        """The first change starts the clock; later ones ride on it, so a user who never
        stops painting is still saved every `delay_ms`."""
        if not self.timer.isActive():
            self.timer.start()

    @Slot()
    def save_now(self) -> None:
        if self.session is None:
            return
        if self.pending is not None and not self.pending.done():
            self.timer.start()  # the writer still reads the copies: try again later
            return
        self.timer.stop()
        started = time.perf_counter()
        state = self.session.state
        copy = replace(
            state,
            masks=self.masks.update(state.masks),
            pairs=list(state.pairs),
            prompts=dict(state.prompts),
            kept=list(state.kept),
        )
        self.pending = self.writer.submit(self._write, copy, self.origin)
        self.gui_ms = (time.perf_counter() - started) * 1000
        log.debug("autosave: %.2f ms on the GUI thread", self.gui_ms)

    def _write(self, state: SessionState, origin: Path | None) -> None:
        try:
            save_project(state, self.path, origin)
        except OSError:
            log.exception("autosave failed")

    def wait(self) -> None:
        """Until the write under way (if any) is on disk."""
        if self.pending is not None:
            self.pending.result()

    def remove(self) -> None:
        """A clean exit needs no recovery: stop, let a running write end, delete the file."""
        self.watch(None, None)
        self.wait()
        self.path.unlink(missing_ok=True)

    def shutdown(self) -> None:
        self.timer.stop()
        self.writer.shutdown(wait=True)


class FileController(QObject):
    """The open session's files: where it came from, where it is saved, whether it has
    unsaved work, and the app's autosave of it."""

    opened = Signal()  # another session (or none) is shown: the title may change

    def __init__(
        self,
        host: FileHost,
        parent_widget: QWidget,
        settings,
        data_dir: Path,
        autosave_name: str = AUTOSAVE_NAME,
        interactive: bool = True,
        autosave_delay_ms: int = AUTOSAVE_DELAY_MS,
    ) -> None:
        super().__init__(parent_widget)
        self.host = host
        self.widget = parent_widget  # the parent of every dialog
        self.settings = settings
        self.interactive = interactive
        self.image_path: Path | None = None
        self.reference_path: Path | None = None
        self.project_path: Path | None = None
        self.recovered_from: Path | None = None  # the file a recovered session came from
        self.recovered = False  # an autosave reopened: unsaved until the user saves it
        self.autosaver = Autosaver(Path(data_dir) / autosave_name, autosave_delay_ms, self)

    @property
    def session(self) -> EditSession | None:
        return self.host.session

    @property
    def autosave_path(self) -> Path:
        """The app's own file in its data folder: never a file the user saved to."""
        return self.autosaver.path

    # -- names and unsaved work ---------------------------------------------------------

    def document_name(self) -> str:
        if self.project_path is not None:
            return self.project_path.name
        if self.recovered:
            hint = self.recovered_from
            return f"{hint.name} (recovered)" if hint is not None else RECOVERED_TITLE
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

    def save_target(self) -> Path:
        """The project file Save writes: the project's own, else one named after the image
        (the Save dialog proposes it)."""
        if self.project_path is not None:
            return self.project_path
        origin = self.image_path or self.recovered_from
        stem = origin.stem if origin is not None else "untitled"
        return save_folder(origin) / f"{stem}{PROJECT_SUFFIX}"

    def confirm_discard(self, doing: str) -> bool:
        """Ask Save / Discard / Cancel when there is unsaved work; True to go on. A window
        without a user (a screenshot's) has no one to ask and no work of the user's."""
        if not self.is_modified() or not self.interactive:
            return True
        target = self.save_target()
        where = "" if self.project_path is not None else " (you can choose another name)"
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.widget,
            "Unsaved changes",
            f"Save your work on “{self.document_name()}” to the project “{target.name}”"
            f"{where} before {doing}?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )
        if answer == buttons.Save:
            return self.save_project()
        return answer == buttons.Discard

    # -- opening ------------------------------------------------------------------------

    def _show(self, session: EditSession | None, image: Path | None, project: Path | None) -> None:
        self.image_path, self.project_path = image, project
        self.recovered, self.recovered_from = False, None
        self.reference_path = None
        self.host.set_session(session)
        self.autosaver.watch(session, image or project)
        self.opened.emit()

    def open_image(self, path: Path) -> bool:
        try:
            image = load_image(path)
        except EngineError as error:
            self.host.complain("Cannot open the image", str(error))
            return False
        session = EditSession.open(image, self.widget)
        session.set_task(Task(self.settings.get("last_task")))  # where the user left off
        self._show(session, Path(path), None)
        self.settings.add_recent(str(path))
        return True

    def open_project(self, path: Path) -> bool:
        try:
            state = load_project(path)
        except EngineError as error:
            self.host.complain("Cannot open the project", str(error))
            return False
        self._show(EditSession(state, self.widget), None, Path(path))
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
            self._show(None, None, None)

    def choose_image(self) -> None:
        if not self.confirm_discard("opening another image"):
            return
        start = str(save_folder(self.image_path))
        path, _ = QFileDialog.getOpenFileName(self.widget, "Open image", start, IMAGE_FILTER)
        if path:
            self.open_image(Path(path))

    def choose_project(self) -> None:
        if not self.confirm_discard("opening a project"):
            return
        start = str(save_folder(self.project_path or self.image_path))
        path, _ = QFileDialog.getOpenFileName(self.widget, "Open project", start, PROJECT_FILTER)
        if path:
            self.open_project(Path(path))

    def fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        for entry in self.settings.get("recent_files"):
            action = menu.addAction(entry)
            action.setData(entry)
            action.triggered.connect(lambda _=False, path=Path(entry): self.open_asking(path))
        menu.setEnabled(bool(self.settings.get("recent_files")))

    def choose_reference(self) -> bool:
        if self.session is None:
            return False
        start = str(save_folder(self.image_path))
        path, _ = QFileDialog.getOpenFileName(self.widget, "Load reference", start, IMAGE_FILTER)
        return bool(path) and self.load_reference(Path(path))

    def load_reference(self, path: Path) -> bool:
        from diffeditor_app.document import commands

        try:
            reference = load_image(path)
        except EngineError as error:
            self.host.complain("Cannot open the reference", str(error))
            return False
        commands.set_reference(self.session, reference)
        self.reference_path = Path(path)
        return True

    # -- saving -------------------------------------------------------------------------

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
            self.host.complain("Cannot save the project", str(error))
            return False
        self.recovered, self.recovered_from = False, None
        self.session.undo_stack.setClean()
        self.settings.add_recent(str(self.project_path))
        self.opened.emit()
        self.host.show_note(f"Saved {self.project_path}", 4000)
        return True

    def save_project_as(self, path: Path | None = None) -> bool:
        """Save under a new name: `path`, or the one the user chooses."""
        if self.session is None:
            return False
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(
                self.widget, "Save project", str(self.save_target()), PROJECT_FILTER
            )
            if not chosen:
                return False
            path = Path(chosen)
        path = Path(path).with_suffix(PROJECT_SUFFIX)
        if path.resolve() == self.autosave_path.resolve():
            self.host.complain(
                "Not saved", "That is DiffEditor's own autosave; choose another name."
            )
            return False
        previous, self.project_path = self.project_path, path
        if not self.save_project():
            self.project_path = previous
            return False
        self.autosaver.origin = path
        return True

    def export_image(self, path: Path | None = None) -> bool:
        """Save the current image under a new name; the original file is never replaced."""
        if self.session is None:
            return False
        if path is None:
            origin = self.image_path or self.recovered_from
            name = proposed_name(origin).name if origin is not None else "edited.png"
            start = save_folder(origin) / name
            chosen, _ = QFileDialog.getSaveFileName(
                self.widget, "Export image", str(start), SAVE_FILTER
            )
            if not chosen:
                return False
            path = Path(chosen)
        given = {"the original image": self.image_path, "the reference image": self.reference_path}
        files = UserFiles({what: p for what, p in given.items() if p is not None})
        try:
            files.check_output(Path(path), option="That file")
            notes = export_image(self.session.image.to_pil(), path, self.session.state.original)
        except InvalidInput as error:
            self.host.complain("Not saved", str(error))
            return False
        except (OSError, ValueError) as error:
            self.host.complain("Cannot save the image", str(error))
            return False
        self.host.show_note(" ".join([f"Saved {path}.", *notes]), STATUS_NOTE_MS)
        return True

    # -- safety nets --------------------------------------------------------------------

    def autosave(self) -> None:
        """Write the autosave now (after a kept result), not when the clock says."""
        self.autosaver.save_now()

    def offer_recovery(self) -> bool:
        """If the last run left an autosave, offer to reopen it as an unsaved session named
        after the file it came from: Save then asks where, so the autosave is never the
        user's file."""
        path = self.autosave_path
        if not path.is_file():
            return False
        origin = project_origin(path)
        named = f" of “{origin.name}”" if origin is not None else ""
        answer = QMessageBox.question(
            self.widget,
            "Restore the last session?",
            f"DiffEditor did not close normally last time. Reopen the autosaved session{named}?",
        )
        if answer != QMessageBox.StandardButton.Yes:
            path.unlink(missing_ok=True)
            return False
        try:
            state = load_project(path)
        except EngineError as error:
            self.host.complain("Cannot restore the session", str(error))
            return False
        self._show(EditSession(state, self.widget), None, None)
        self.recovered, self.recovered_from = True, origin
        self.autosaver.origin = origin
        self.opened.emit()
        return True

    def close(self) -> None:
        """A clean exit: the autosave goes, and its writer thread with it."""
        self.autosaver.remove()
        self.autosaver.shutdown()
