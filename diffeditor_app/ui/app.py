"""Start the desktop app (qasync event loop), or render a screenshot offscreen."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from diffeditor_app.engine.loading import ModelSpec

REPO = Path(__file__).resolve().parents[2]
DEMO_IMAGE = REPO / "resources" / "samples" / "scene.png"
DEMO_MASK = REPO / "resources" / "samples" / "scene_circle_mask.png"
DEMO_REGION = REPO / "resources" / "samples" / "scene_square_region.png"


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("DiffEditor", appauthor=False))


def demo_model() -> ModelSpec:
    """The demo runs offline on a tiny model kept in the user's cache folder."""
    from platformdirs import user_cache_dir

    from diffeditor_app.engine.testing import write_tiny_model

    folder = Path(user_cache_dir("DiffEditor", appauthor=False)) / "tiny-demo"
    if not (folder / "model_index.json").is_file():
        write_tiny_model(folder)
    return ModelSpec(str(folder), device="cpu")


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
):
    """The main window with its settings store and worker; every path can be injected."""
    from diffeditor_app.runtime.settings import SettingsStore, default_path
    from diffeditor_app.runtime.worker import WorkerClient
    from diffeditor_app.ui.window import MainWindow

    application()
    settings = SettingsStore(settings_path or default_path())
    worker = WorkerClient()
    window = MainWindow(settings, worker, data or data_dir(), model)
    worker.setParent(window)
    return window


def prepare_demo(window) -> None:
    """The sample scene set up for every task: the circle painted and its move box, a drag
    region with one handle -> target pair, and the scene as its own reference with the
    circle placed as a paste layer."""
    from diffeditor_app.document import commands
    from diffeditor_app.document.session import MaskName, MoveBox, PasteLayer
    from diffeditor_app.engine.images import load_image, load_mask
    from diffeditor_app.engine.requests import Point

    window.open_image(DEMO_IMAGE)
    session = window.session
    circle = load_mask(DEMO_MASK, session.image.size)
    region = load_mask(DEMO_REGION, session.image.size)
    height, width = circle.shape
    everything = (0, 0, width, height)
    commands.stroke(session, MaskName.OBJECT, everything, circle, erase=False)
    commands.set_box(session, MoveBox(dx=round(width * 0.2), dy=0.0))
    commands.stroke(session, MaskName.REGION, everything, region, erase=False)
    commands.add_point(session, Point(width * 0.7, height * 0.66))
    commands.add_point(session, Point(width * 0.78, height * 0.72))
    commands.set_reference(session, load_image(DEMO_IMAGE))
    commands.stroke(session, MaskName.REFERENCE, everything, circle, erase=False)
    commands.set_paste(session, PasteLayer(Point(width * 0.8, height * 0.3), 0.6))


def run(demo: bool = False, model: str | None = None, image: Path | None = None) -> int:
    import qasync

    app = application()
    spec = demo_model() if demo else (ModelSpec(model) if model else None)
    window = create_window(model=spec)
    window.show()
    if demo:
        prepare_demo(window)
    elif image is not None:
        window.open_path(Path(image))
    else:
        window.offer_recovery()
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
    return 0


def screenshot(out: Path, task: str = "move", image: Path | None = None, demo: bool = False) -> int:
    """Render the main window offscreen after loading an image and choosing a task."""
    import os
    import tempfile

    from diffeditor_app.engine.settings import Task

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    application()
    with tempfile.TemporaryDirectory() as scratch:
        window = create_window(Path(scratch) / "settings.json", Path(scratch))
        window.show()
        if demo or image is None:
            prepare_demo(window)
        else:
            window.open_path(Path(image))
        window.set_task(Task(task))
        window.canvas.fit()
        application().processEvents()
        saved = window.grab().save(str(out))
        window.close()
    return 0 if saved else 1
