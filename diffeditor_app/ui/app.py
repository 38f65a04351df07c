"""Start the desktop app (qasync event loop), or render a screenshot offscreen."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from diffeditor_app.engine.models.model import ModelSpec
from diffeditor_app.engine.tasks.registry import Task

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "resources" / "samples"
DEMO_IMAGE = SAMPLES / "toy_scene.png"  # bench/toyworld/samples.py draws these
DEMO_MASK = SAMPLES / "toy_circle_mask.png"
DEMO_REGION = SAMPLES / "toy_square_region.png"
DEMO_REFERENCE = SAMPLES / "toy_reference.png"
DEMO_REFERENCE_MASK = SAMPLES / "toy_reference_mask.png"
DEMO_RESULTS = {  # what a task's edit of the demo should show, where it has a prompt of its own
    task: SAMPLES / f"toy_{task.value}.txt"
    for task in Task
    if (SAMPLES / f"toy_{task.value}.txt").is_file()
}
DEMO_MODEL = "toy"  # models/toy: trained on toy scenes, shipped with the app
DEMO_MOVE = (26, -4)  # pixels: the sample circle's move (also the README's and CI's)
DEMO_PASTE_AT = (0.72, 0.25)  # the paste layer's centre, as a share of the image's sides
DEMO_PASTE_SCALE = 0.8  # ... and its scale
DEMO_FACE = SAMPLES / "face_portrait.png"  # the face task's demo photo (public domain)
DEMO_FACE_SLIDER = ("smile", 0.6)  # ... and the slider its demo edit moves
FACES_WAIT_MS = 30_000  # the landmark model's first load takes about two seconds
SCREENSHOT_EDIT_MS = 600_000  # how long `screenshot(edit=True)` waits for the edit
SCREENSHOT_FORMATS = (".png",)


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("DiffEditor", appauthor=False))


def demo_model() -> ModelSpec:
    """The demo runs offline on the shipped toy model, on the CPU (it is small)."""
    return ModelSpec(DEMO_MODEL, device="cpu")


def application():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("DiffEditor")
    app.setOrganizationName("DiffEditor")
    return app


def create_window(
    settings_path: Path | None = None,
    data: Path | None = None,
    model: ModelSpec | None = None,
    demo: bool = False,
    interactive: bool = True,
    autosave_delay_ms: int | None = None,
):
    """The main window with its settings store and worker; every path can be injected. The
    demo autosaves into its own slot, never over a real session's. A window that is not
    interactive raises its problems instead of showing dialogs."""
    from diffeditor_app.runtime.settings import SettingsStore, default_path
    from diffeditor_app.runtime.worker import WorkerClient
    from diffeditor_app.ui.file_controller import (
        AUTOSAVE_DELAY_MS,
        AUTOSAVE_NAME,
        DEMO_AUTOSAVE_NAME,
    )
    from diffeditor_app.ui.window import MainWindow

    application()
    settings = SettingsStore(settings_path or default_path())
    worker = WorkerClient()
    slot = DEMO_AUTOSAVE_NAME if demo else AUTOSAVE_NAME
    window = MainWindow(
        settings,
        worker,
        data or data_dir(),
        model,
        autosave_name=slot,
        interactive=interactive,
        autosave_delay_ms=autosave_delay_ms or AUTOSAVE_DELAY_MS,
    )
    worker.setParent(window)
    return window


def prepare_demo(window) -> None:
    """The toy sample scene set up for every task: the circle painted with a move box, a
    drag region around the square with one handle -> target pair, and a reference triangle
    with its mask (and its caption as the reference prompt), placed as a paste layer. The
    appearance and paste prompts describe their results, as the prompt field asks; move and
    drag keep theirs empty, as a user who types nothing would."""
    from diffeditor_app.document import commands
    from diffeditor_app.document.state import MaskName, MoveBox, PasteLayer
    from diffeditor_app.engine.imaging.images import load_image, load_mask
    from diffeditor_app.engine.requests import Point

    window.files.open_image(DEMO_IMAGE)
    session = window.session
    session.set_text(reference_prompt=DEMO_REFERENCE.with_suffix(".txt").read_text().strip())
    for task, result in DEMO_RESULTS.items():
        session.set_prompt(task, result.read_text().strip())
    circle = load_mask(DEMO_MASK, session.image.size)
    region = load_mask(DEMO_REGION, session.image.size)
    height, width = circle.shape
    everything = (0, 0, width, height)
    commands.stroke(session, MaskName.OBJECT, everything, circle, erase=False)
    commands.set_box(session, MoveBox(dx=DEMO_MOVE[0], dy=DEMO_MOVE[1]))
    commands.stroke(session, MaskName.REGION, everything, region, erase=False)
    commands.add_point(session, Point(44, 42))  # the square's centre, in the 64 px sample
    commands.add_point(session, Point(44, 52))  # samples.py's DRAG
    reference = load_image(DEMO_REFERENCE)
    commands.set_reference(session, reference)
    reference_mask = load_mask(DEMO_REFERENCE_MASK, reference.size)
    commands.stroke(
        session, MaskName.REFERENCE, (0, 0, *reference.size), reference_mask, erase=False
    )
    at = Point(width * DEMO_PASTE_AT[0], height * DEMO_PASTE_AT[1])
    commands.set_paste(session, PasteLayer(at, DEMO_PASTE_SCALE))
    window.set_task(session.task)  # its own tool, now that its mask is painted (Move: box)
    session.undo_stack.setClean()  # the demo's set-up is not the user's unsaved work


def prepare_face_demo(window) -> str | None:
    """The face task on the demo photo, a slider moved once its faces are found; None when
    ready, else the sentence the Face panel shows (the face extra missing, for one)."""
    from PySide6.QtCore import QDeadlineTimer, QEventLoop

    from diffeditor_app.document import commands, gestures
    from diffeditor_app.document.faces import found_on, problem

    window.files.open_image(DEMO_FACE)
    window.set_task(Task.FACE)
    session, deadline = window.session, QDeadlineTimer(FACES_WAIT_MS)
    while found_on(session.state, session.image) is None and not deadline.hasExpired():
        application().processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
    if problem(session.state):
        return problem(session.state)
    commands.face_change(session, gestures.set_slider(session.state, *DEMO_FACE_SLIDER))
    session.undo_stack.setClean()  # the demo's set-up is not the user's unsaved work
    return None


def run(demo: bool = False, model: str | None = None, image: Path | None = None) -> NoReturn:
    """The desktop app until its window closes; the process ends there (`leave_now`)."""
    import qasync

    app = application()
    spec = demo_model() if demo else (ModelSpec(model) if model else None)
    window = create_window(model=spec, demo=demo)
    window.show()
    window.activateWindow()  # the keys work before any click, also with no window manager
    window.show_settings_problems()
    if demo:
        if not window.files.offer_recovery():
            prepare_demo(window)
    elif image is not None:
        window.files.open_path(Path(image))
    else:
        window.files.offer_recovery()
    if spec is None:
        from diffeditor_app.ui.model_setup import needs_setup

        if needs_setup(window.settings):  # first run without weights
            window.show_model_setup()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    leave_now()


def release(window) -> None:
    """Delete a closed window now, with its widgets and worker. A closed window is only
    hidden; one left for the interpreter's exit is deleted there by PySide's clean-up, which
    deletes every object Python still owns in no fixed order and can reach a widget
    already deleted with its parent (a crash after all the work is done)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    window.deleteLater()
    QCoreApplication.sendPostedEvents(window, QEvent.Type.DeferredDelete)


def leave_now() -> NoReturn:
    """End the process once the window has closed. By then everything is on disk: the
    settings, the autosave's removal (its writer thread joined), and the edit worker has
    stopped. What remains is the interpreter's teardown of torch, diffusers and Qt, which
    takes 1-3 s on 2 cores and saves nothing, so quitting skips it."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_edit_and_wait(window, timeout_ms: int = SCREENSHOT_EDIT_MS) -> str | None:
    """Run the window's edit as the Edit button does and wait until it ends: None when its
    result is shown below the canvas, else the sentence the window would have shown."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    outcome: list[str | None] = []
    worker, edits = window.worker, window.edits

    def end(why: str | None) -> None:
        outcome.append(why)
        loop.quit()

    def problem(title: str, message: str) -> None:
        end(f"{title}: {message}")

    def finished(job: int, result) -> None:  # after the window's own slot has shown it
        end(None)

    def cancelled(job: int) -> None:
        end("The edit was cancelled.")

    edits.problem.disconnect(window.complain)  # no one is there to read a dialog
    edits.problem.connect(problem)
    worker.finished.connect(finished)
    worker.cancelled.connect(cancelled)
    try:
        edits.run()
        if not outcome:
            QTimer.singleShot(timeout_ms, lambda: end(f"No result within {timeout_ms // 1000} s"))
            loop.exec()
    finally:
        worker.finished.disconnect(finished)
        worker.cancelled.disconnect(cancelled)
        edits.problem.disconnect(problem)
        edits.problem.connect(window.complain)
    return outcome[0]


def png_bytes(picture) -> bytes:
    """A QPixmap or QImage as the bytes of a PNG file, for an atomic write."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not picture.save(buffer, "PNG"):
        raise OSError("the window could not be encoded as PNG")
    return bytes(data)


def screenshot(
    out: Path,
    task: str,
    image: Path | None = None,
    demo: bool = False,
    edit: bool = False,
) -> int:
    """Render the main window offscreen after loading an image and choosing a task (and,
    with `edit`, running its edit: the result shows below the canvas)."""
    import tempfile

    from diffeditor_app.engine.errors import InvalidInput
    from diffeditor_app.engine.imaging.outputs import UserFiles, write_atomically

    demo = demo or image is None
    given = {} if demo else {"the image to open": Path(image)}  # the demo's are in resources/
    protected = {
        "DiffEditor's own samples and icons": REPO / "resources",
        "DiffEditor's own models": REPO / "models",
    }
    out = UserFiles(given, protected).check_output(out, "--screenshot", SCREENSHOT_FORMATS)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    application()
    with tempfile.TemporaryDirectory() as scratch:
        window = create_window(
            Path(scratch) / "settings.json",
            Path(scratch),
            demo_model() if demo else None,
            demo,
            interactive=False,
        )
        try:
            window.show()
            problem = None
            if demo and Task(task) is Task.FACE:
                problem = prepare_face_demo(window)
            elif demo:
                prepare_demo(window)
            else:
                window.files.open_path(Path(image))
            window.set_task(Task(task))
            window.canvas.fit()
            if edit and problem is None:
                problem = run_edit_and_wait(window)
            if edit and problem is not None:
                raise InvalidInput(problem)  # as a file that does not open: exit 2, said
            application().processEvents()
            shot = png_bytes(window.grab())
        finally:
            window.close()  # stops the worker thread, also after an error
            release(window)
    write_atomically(out, lambda stream: stream.write(shot))
    return 0
