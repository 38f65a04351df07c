"""Face landmarks off the GUI thread: dlib loads its 68-point model in about two seconds and
then takes tens of milliseconds per photo, on the CPU. Detection needs no model the edit
worker owns, so it runs on a one-thread pool of its own and never waits behind an edit;
a pool thread, unlike a QThread, needs no stopping before its window may be deleted.

Every answer names the image it belongs to: the session keeps the faces of each image it
asked about, and an answer for an image no longer shown is simply kept for later (undoing a
Keep shows that image again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QObject, Qt, Signal, Slot

from diffeditor_app.engine.errors import EngineError
from diffeditor_app.engine.face.landmarks import Face, detect_faces
from diffeditor_app.engine.imaging.images import SourceImage

log = logging.getLogger("diffeditor_app.runtime")

Detector = Callable[[SourceImage], list[Face]]
FAILED = "Finding the faces failed; the log has the details."


class LandmarkClient(QObject):
    """`find(image)` queues a detection; `found(image, faces, problem)` carries the answer
    in the GUI thread (`problem`: the sentence when the detector could not look, else "")."""

    found = Signal(object, object, str)
    _answered = Signal(object, object, str)  # emitted in the pool's thread

    def __init__(self, parent: QObject | None = None, detect: Detector | None = None) -> None:
        super().__init__(parent)
        self._detect = detect or detect_faces
        self._asked: list[SourceImage] = []  # asked about and not answered yet
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landmarks")
        self._answered.connect(self._on_answered, Qt.ConnectionType.QueuedConnection)

    def find(self, image: SourceImage) -> None:
        """Queue `image` unless it is queued already."""
        if not self.pending(image):
            self._asked.append(image)
            self._pool.submit(self._look, image)

    def pending(self, image: SourceImage) -> bool:
        return any(asked is image for asked in self._asked)

    def _look(self, image: SourceImage) -> None:
        faces, problem = (), ""
        try:
            faces = tuple(self._detect(image))
        except EngineError as error:  # the face extra missing, for one
            problem = str(error)
        except Exception:  # a detector fault must not go unanswered: say it, keep going
            log.exception("Face detection failed")
            problem = FAILED
        self._answered.emit(image, faces, problem)

    @Slot(object, object, str)
    def _on_answered(self, image: SourceImage, faces: tuple[Face, ...], problem: str) -> None:
        self._asked = [asked for asked in self._asked if asked is not image]
        self.found.emit(image, faces, problem)

    def shutdown(self) -> None:
        """Drop what is queued; a detection under way ends by itself (tens of ms)."""
        self._asked.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
