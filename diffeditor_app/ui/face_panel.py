"""The face task's panel: which face, which groups move, the Face-Aware-Liquify-like
sliders and the reference face's transfer. It also asks for the landmarks of the session's
images while the face task is chosen (runtime/landmarks.py does the work off the GUI
thread) and hands each answer to the session.

Every change is one undo step through the face gestures: a slider's drag merges into one
step; a click, a key or a wheel notch on it is a step of its own.
"""

from __future__ import annotations

import contextlib
from dataclasses import fields

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from diffeditor_app.document import commands, gestures
from diffeditor_app.document.faces import found_on, problem, reference_face
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import FoundFaces
from diffeditor_app.engine.face.align import GROUPS
from diffeditor_app.engine.face.landmarks import LICENCE_NOTE, Face
from diffeditor_app.engine.face.sliders import SLIDER_RANGE, Sliders
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.runtime.landmarks import LandmarkClient

SLIDER_TICKS = 100  # a slider's ticks per unit of its [-1, 1] value
SLIDER_MIN_PX = 120  # a slider's least width
GROUPS_A_ROW = 3
PANEL_PX = 200  # the width the panel asks for: the canvas keeps most of a 1280 px window
READY = "{faces}. Drag a point (F), move a slider, or transfer the reference face."
TRANSFER_TIP = (
    "Move the points to the reference face's, aligned on the eyes and nose, so its pose and "
    "size do not count: only its shape and expression"
)
NO_REFERENCE_FACE = "Load a reference photo with a face in the Reference panel to transfer it."


def _faces_text(count: int) -> str:
    return "One face found" if count == 1 else f"{count} faces found"


class FacePanel(QWidget):
    def __init__(self, client: LandmarkClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.session: EditSession | None = None
        self._connections: list = []
        self._gesture = 0  # counts slider drags: one drag, one undo step
        client.found.connect(self._on_found)

        self.status = QLabel(wordWrap=True)
        self.face_choice = QComboBox()
        self.face_choice.setToolTip("The face to edit; a click inside a face's box picks it too")
        self.face_choice.activated.connect(self._choose_face)
        self.transfer = QCheckBox("Transfer the reference face")
        self.transfer.toggled.connect(self._transfer)
        self.groups: dict[str, QCheckBox] = {}
        group_grid = QGridLayout()  # three a row: the panel stays narrow beside the canvas
        for number, name in enumerate(GROUPS):
            box = QCheckBox(name.capitalize())
            box.setToolTip(f"Whether the {name} move; off: they hold their place")
            box.toggled.connect(lambda on, n=name: self._toggle_group(n, on))
            group_grid.addWidget(box, number // GROUPS_A_ROW, number % GROUPS_A_ROW)
            self.groups[name] = box
        self.sliders: dict[str, tuple[QSlider, QLabel]] = {}
        grid = QGridLayout()
        grid.setVerticalSpacing(2)
        low, high = SLIDER_RANGE
        for row, slider_field in enumerate(fields(Sliders)):
            name = slider_field.name
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(round(low * SLIDER_TICKS), round(high * SLIDER_TICKS))
            slider.setPageStep(SLIDER_TICKS // 10)
            slider.setMinimumWidth(SLIDER_MIN_PX)
            slider.setAccessibleName(name.replace("_", " ").capitalize())
            slider.sliderPressed.connect(self._new_gesture)
            slider.valueChanged.connect(lambda value, n=name: self._slide(n, value))
            value = QLabel("0.00")
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(QLabel(name.replace("_", " ").capitalize()), 2 * row, 0)
            grid.addWidget(value, 2 * row, 1)  # name and value above the slider: a narrow panel
            grid.addWidget(slider, 2 * row + 1, 0, 1, 2)
            self.sliders[name] = (slider, value)
        self.reset = QPushButton("Reset points")
        self.reset.setToolTip("Every target back on its point: sliders at 0, no transfer")
        self.reset.clicked.connect(self._reset)
        licence = QLabel(LICENCE_NOTE, wordWrap=True)
        licence.setStyleSheet("color: gray; font-size: small")

        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.face_choice)
        layout.addWidget(QLabel("Groups that move"))
        layout.addLayout(group_grid)
        layout.addLayout(grid)
        layout.addWidget(self.transfer)
        layout.addWidget(self.reset)
        layout.addStretch(1)
        layout.addWidget(licence)
        self.show_state()

    def sizeHint(self) -> QSize:
        """Narrow: its sentences wrap, its sliders shrink."""
        return QSize(PANEL_PX, super().sizeHint().height())

    # -- the session ------------------------------------------------------------------------

    def set_session(self, session: EditSession | None) -> None:
        for signal, slot in self._connections:
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
        self._connections = []
        self.session = session
        if session is not None:
            for signal, slot in (
                (session.face_changed, self.show_state),
                (session.image_changed, self._images_changed),
                (session.reference_changed, self._images_changed),
                (session.task_changed, self._images_changed),
            ):
                signal.connect(slot)
                self._connections.append((signal, slot))
        self._images_changed()

    def _images_changed(self, *_) -> None:
        """While the face task is chosen, ask for the faces of the image and the reference
        that have none yet."""
        session = self.session
        if session is not None and session.task is Task.FACE:
            for image in (session.state.current, session.state.reference):
                if image is not None and found_on(session.state, image) is None:
                    self.client.find(image)
        self.show_state()

    def _on_found(self, image: SourceImage, faces: tuple[Face, ...], sentence: str) -> None:
        if self.session is not None:
            self.session.add_found(FoundFaces(image, faces, sentence))

    # -- showing ----------------------------------------------------------------------------

    def show_state(self) -> None:
        session = self.session
        state = session.state if session is not None else None
        found = found_on(state, state.current) if state is not None else None
        faces = found.faces if found is not None else ()
        ready = state is not None and not problem(state)
        widgets = [self.face_choice, self.transfer, *self.groups.values()]
        widgets += [slider for slider, _ in self.sliders.values()]
        for widget in widgets:
            widget.blockSignals(True)
        if state is None:
            self.status.setText("Open an image with a face.")
        else:
            text = READY.format(faces=_faces_text(len(faces))) if ready else problem(state)
            self.status.setText(text)
        self.face_choice.clear()
        for index, face in enumerate(faces):
            x0, y0, x1, y1 = (round(v) for v in face.box)
            size = "largest" if index == 0 else f"{x1 - x0}x{y1 - y0} px"
            self.face_choice.addItem(f"Face {index + 1} ({size}) at {x0}, {y0}")
        self.face_choice.setVisible(len(faces) > 1)
        has_reference = state is not None and reference_face(state) is not None
        if state is not None:
            setup = state.face_setup
            self.face_choice.setCurrentIndex(setup.chosen)
            self.transfer.setChecked(setup.reference)
            for name, box in self.groups.items():
                box.setChecked(name in setup.groups)
            for name, (slider, value) in self.sliders.items():
                number = getattr(setup.sliders, name)
                slider.setValue(round(number * SLIDER_TICKS))
                value.setText(f"{number:+.2f}" if number else "0.00")
        for widget in widgets:
            widget.setEnabled(ready)
            widget.blockSignals(False)
        self.transfer.setEnabled(ready and has_reference)
        self.transfer.setToolTip(TRANSFER_TIP if has_reference else NO_REFERENCE_FACE)
        self.reset.setEnabled(ready)

    # -- gestures ---------------------------------------------------------------------------

    def _push(self, change) -> None:
        if self.session is not None:
            commands.face_change(self.session, change)

    def _new_gesture(self) -> None:
        self._gesture += 1

    def _slide(self, name: str, ticks: int) -> None:
        slider = self.sliders[name][0]
        gesture = self._gesture if slider.isSliderDown() else None
        if self.session is not None:
            value = ticks / SLIDER_TICKS
            self._push(gestures.set_slider(self.session.state, name, value, gesture))

    def _choose_face(self, index: int) -> None:
        if self.session is not None:
            self._push(gestures.choose_face(self.session.state, index))

    def _toggle_group(self, name: str, on: bool) -> None:
        if self.session is not None:
            self._push(gestures.toggle_group(self.session.state, name, on))

    def _transfer(self, on: bool) -> None:
        if self.session is not None:
            self._push(gestures.transfer_reference(self.session.state, on))

    def _reset(self) -> None:
        if self.session is not None:
            self._push(gestures.reset_face(self.session.state))
