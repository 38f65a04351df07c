"""`EditSession`: the document's state (state.py) observed by the views, with its undo stack.

Views read the session and subscribe to its fine-grained signals; they change it only by
pushing undo commands (commands.py), which call the `_apply_*` methods below. Setters that
would not change anything emit nothing. This is the Qt adapter of the Qt-free state.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from diffeditor_app.document.faces import remember
from diffeditor_app.document.state import (
    BBox,
    Candidate,
    DragPair,
    FaceSetup,
    FoundFaces,
    MaskName,
    MoveBox,
    PasteLayer,
    SessionState,
    prompt_slot,
)
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.tasks.registry import Task


class EditSession(QObject):
    """One open image and everything set up to edit it."""

    image_changed = Signal()
    mask_changed = Signal(str, object)  # mask name, changed BBox (None: everywhere)
    pairs_changed = Signal()
    box_changed = Signal()
    paste_changed = Signal()
    face_changed = Signal()  # the face set-up, or faces found on an image of the session
    reference_changed = Signal()
    task_changed = Signal(str)
    text_changed = Signal()  # prompts, seed or options
    candidates_changed = Signal()

    def __init__(self, state: SessionState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.undo_stack = QUndoStack(self)
        self.candidates: list[Candidate] = []

    @classmethod
    def open(cls, image: SourceImage, parent: QObject | None = None) -> EditSession:
        return cls(SessionState.for_image(image), parent)

    # -- reading --------------------------------------------------------------------------

    @property
    def image(self) -> SourceImage:
        return self.state.current

    def mask(self, name: MaskName) -> np.ndarray:
        """The live mask (read it, never write it: push a command instead)."""
        return self.state.masks[name]

    @property
    def task(self) -> Task:
        return self.state.task

    # -- not undo steps: tool options are preferences (docs/ARCHITECTURE.md, One home per default)

    def set_task(self, task: Task) -> None:
        if task is not self.state.task:
            self.state.task = task
            self.task_changed.emit(task.value)

    def set_text(self, **changes) -> None:
        """Prompt (the current task's), reference_prompt, seed or options; emits once if
        anything changed."""
        updated = False
        for key, value in changes.items():
            if key not in {"prompt", "reference_prompt", "seed", "options"}:
                raise KeyError(key)
            if getattr(self.state, key) != value:
                if key == "prompt":
                    self.state.prompts[prompt_slot(self.state.task)] = value
                else:
                    setattr(self.state, key, value)
                updated = True
        if updated:
            self.text_changed.emit()

    def set_prompt(self, task: Task, text: str) -> None:
        """The prompt of a task other than the current one (a demo, a script)."""
        if self.state.prompts.get(prompt_slot(task), "") != text:
            self.state.prompts[prompt_slot(task)] = text
            self.text_changed.emit()

    def set_options(self, **changes) -> None:
        self.set_text(options=replace(self.state.options, **changes))

    def add_found(self, found: FoundFaces) -> None:
        """Faces the detector found on an image: a fact about that image, not an undo step
        (undoing a Keep brings back the image, and its faces with it)."""
        if remember(self.state, found):
            self.face_changed.emit()

    def add_candidate(self, candidate: Candidate) -> None:
        self.candidates.append(candidate)
        self.candidates_changed.emit()

    def clear_candidates(self) -> None:
        if self.candidates:
            self.candidates.clear()
            self.candidates_changed.emit()

    def discard_candidate(self, candidate: Candidate) -> None:
        if candidate in self.candidates:
            self.candidates.remove(candidate)
            self.candidates_changed.emit()

    # -- applied only by undo commands ---------------------------------------------------

    def _apply_mask(self, name: MaskName, bbox: BBox, pixels: np.ndarray) -> None:
        x0, y0, x1, y1 = bbox
        self.state.masks[name][y0:y1, x0:x1] = pixels
        self.mask_changed.emit(name.value, bbox)

    def _apply_reference(self, reference: SourceImage | None, mask: np.ndarray | None) -> None:
        self.state.reference = reference
        if mask is None:
            self.state.masks.pop(MaskName.REFERENCE, None)
        else:
            self.state.masks[MaskName.REFERENCE] = mask
        self.reference_changed.emit()
        self.mask_changed.emit(MaskName.REFERENCE.value, None)

    def _apply_pairs(self, pairs: list[DragPair]) -> None:
        self.state.pairs = list(pairs)
        self.pairs_changed.emit()

    def _apply_box(self, box: MoveBox) -> None:
        if box != self.state.box:
            self.state.box = box
            self.box_changed.emit()

    def _apply_paste(self, paste: PasteLayer) -> None:
        if paste != self.state.paste:
            self.state.paste = paste
            self.paste_changed.emit()

    def _apply_face_setup(self, face: FaceSetup) -> None:
        if face != self.state.face_setup:
            self.state.face_setup = face
            self.face_changed.emit()

    def _apply_current(self, image: SourceImage, kept: list[SourceImage]) -> None:
        self.state.current = image
        self.state.kept = list(kept)
        self.image_changed.emit()
