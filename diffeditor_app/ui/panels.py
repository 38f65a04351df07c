"""Side panels of the main window: the edit panel (prompts, seed, Advanced, Edit / Cancel,
progress) and the candidates bar (keep, discard, run again, previous / next).

Panels hold no document state: they show the session and write back through it."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QEvent, QLocale, Qt, Signal
from PySide6.QtGui import QAction, QDoubleValidator, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import EditOptions, SessionState
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.limits import OPTION_RANGES, SEED_RANGE
from diffeditor_app.engine.models.model import ModelProfile
from diffeditor_app.engine.settings import Quality
from diffeditor_app.runtime.model_defaults import ModelDefaults
from diffeditor_app.runtime.settings import QUALITY_LABELS
from diffeditor_app.ui.status_bar import ElidedLabel
from diffeditor_app.ui.tasks import VIEWS, uses_reference

IMAGE_PROMPT_HINT = "What the image shows (optional)"
RESULT_PROMPT_HINT = "What the result should show (optional)"


BLANK = SessionState.for_image(SourceImage(np.zeros((1, 1, 3), np.uint8)))  # the defaults


def off_focus_chain(*buttons: QPushButton) -> None:
    """A click does not take the keyboard focus: keys stay with the canvas."""
    for button in buttons:
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)


NO_IMAGE_HINT = "Open an image (Ctrl+O) or drop one on the window to start."


def new_seed() -> int:
    return random.randint(*SEED_RANGE)


UNKNOWN_DEFAULT = "server's default"  # the placeholder until the server says its defaults


class OptionField(QLineEdit):
    """A number, or nothing: empty means the default of the model that will run the edit,
    shown as the placeholder; a typed number is kept as typed, even when it equals that
    default (the default may change with the model; the user's number should not)."""

    def __init__(self, name: str, low: float, high: float, decimals: int = 3) -> None:
        super().__init__()
        self.name = name  # the EditOptions field and TaskSettings setting it sets
        validator = QDoubleValidator(low, high, decimals, self)
        validator.setNotation(QDoubleValidator.Notation.StandardNotation)
        validator.setLocale(QLocale.c())  # a dot, as every number of the app is written
        self.setValidator(validator)

    def number(self) -> float | None:
        text = self.text().strip()
        return float(text) if text and self.hasAcceptableInput() else None

    def show_number(self, value: float | None, default: float | None) -> None:
        show_text(self, "" if value is None else f"{value:g}")
        self.setPlaceholderText(UNKNOWN_DEFAULT if default is None else f"{default:g}")


def show_text(line: QLineEdit, text: str) -> None:
    """Set a field only when its text differs, so a refresh never moves the cursor of the
    field being typed in; a field set from outside (a project opened, another task's prompt
    while the field keeps the focus) shows its text from the start."""
    if line.text() != text:
        line.setText(text)
        line.setCursorPosition(0)


class EditPanel(QWidget):
    """Prompts, seed, Advanced settings, the Edit and Cancel buttons and the progress bar."""

    edit_requested = Signal()
    cancel_requested = Signal()
    typing_done = Signal()  # Return or Escape in a prompt: the keys go back to the canvas

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: EditSession | None = None
        # the defaults of the model that will run the edit; SD1.5's until the window says
        self.defaults: ModelDefaults | None = ModelDefaults.of_profile(ModelProfile())
        self.default_quality = Quality.FULL  # the preference, for sessions that chose none
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.prompt = QLineEdit(placeholderText=IMAGE_PROMPT_HINT)
        self.reference_prompt = QLineEdit(placeholderText="What the reference shows (optional)")
        self.seed = QSpinBox(minimum=SEED_RANGE[0], maximum=SEED_RANGE[1])
        self.new_seed = QPushButton("New seed")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.new_seed)
        self.quality = QComboBox()
        self.quality.addItems(list(QUALITY_LABELS))
        self.quality.setToolTip("Fast does about a third of the UNet work with the same method.")

        self.advanced = QGroupBox("Advanced")
        self.advanced.setCheckable(True)
        self.advanced.setChecked(False)
        ranges = OPTION_RANGES
        self.guidance = OptionField("guidance_strength", *ranges["guidance_strength"])
        self.guidance.setToolTip("Guidance strength: how hard the edit is pushed (S / 1000).")
        self.eta_in = OptionField("eta_in", *ranges["eta_in"])
        self.eta_in.setToolTip("Flexibility: randomness inside the edit region (SDE eta).")
        self.ip_scale = OptionField("ip_scale", *ranges["ip_scale"])
        self.ip_scale.setToolTip("Image-prompt scale: how much the image itself steers the edit.")
        self.option_fields = (self.guidance, self.eta_in, self.ip_scale)
        self.steps = QSpinBox()
        self.steps.setRange(*ranges["steps"])
        self.resolution = QSpinBox(singleStep=64)
        self.resolution.setRange(*ranges["resolution"])
        self.resolution.setSpecialValueText("model default")
        self.reset = QPushButton("Reset to defaults")
        form = QFormLayout(self.advanced)
        form.addRow("Guidance strength", self.guidance)
        form.addRow("Flexibility", self.eta_in)
        form.addRow("Image-prompt scale", self.ip_scale)
        form.addRow("Steps", self.steps)
        form.addRow("Working resolution", self.resolution)
        form.addRow(self.reset)

        self.edit_button = QPushButton("Edit")
        self.edit_button.setDefault(True)
        self.edit_button.setShortcut("Ctrl+Return")
        self.cancel_button = QPushButton("Cancel (Esc)")
        self.cancel_button.setVisible(False)
        self.cancel_action = QAction("Cancel the edit", self, enabled=False)
        self.cancel_action.setShortcut(QKeySequence("Escape"))
        self.cancel_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addAction(self.cancel_action)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.hint.setMinimumWidth(1)  # long sentences wrap instead of widening the dock
        self.status.setMinimumWidth(1)
        off_focus_chain(*self.buttons())
        buttons = QHBoxLayout()
        buttons.addWidget(self.edit_button, 1)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        self.fields = QFormLayout()
        self.fields.addRow("Prompt", self.prompt)
        self.fields.addRow("Reference prompt", self.reference_prompt)
        self.fields.addRow("Seed", seed_row)
        self.fields.addRow("Quality", self.quality)
        layout.addLayout(self.fields)
        layout.addWidget(self.advanced)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.edit_button.clicked.connect(self.request_edit)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_action.triggered.connect(self.cancel_requested)
        self.new_seed.clicked.connect(lambda: self.seed.setValue(new_seed()))
        self.reset.clicked.connect(self.reset_to_defaults)
        self.prompt.editingFinished.connect(self.commit)
        self.reference_prompt.editingFinished.connect(self.commit)
        for line in (self.prompt, self.reference_prompt, *self.option_fields):
            line.returnPressed.connect(self.typing_done)
            line.installEventFilter(self)
        self.seed.valueChanged.connect(self.commit)
        self.quality.currentIndexChanged.connect(self.commit)
        self.advanced.toggled.connect(self.commit)
        for field in self.option_fields:  # on Return or leaving the field, as the prompts
            field.editingFinished.connect(self.commit)
        for box in (self.steps, self.resolution):
            box.valueChanged.connect(self.commit)
        self.setEnabled(False)
        self._refresh()  # real defaults, even before an image or a model

    def buttons(self) -> tuple[QPushButton, ...]:
        return (self.new_seed, self.reset, self.edit_button, self.cancel_button)

    def eventFilter(self, watched, event) -> bool:
        """Escape in a prompt field hands the keys back to the canvas."""
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.typing_done.emit()
            return True
        return False

    def set_session(self, session: EditSession | None) -> None:
        if self.session is not None:
            self.session.task_changed.disconnect(self._refresh)
            self.session.text_changed.disconnect(self._refresh)
        self.session = session
        self.setEnabled(session is not None)
        if session is not None:
            session.task_changed.connect(self._refresh)
            session.text_changed.connect(self._refresh)
            self._refresh()

    def request_edit(self) -> None:
        """What the fields show goes to the session first: the Edit button takes no focus,
        so a number still being typed has not been committed."""
        self.commit()
        self.edit_requested.emit()

    def set_defaults(self, defaults: ModelDefaults | None) -> None:
        """The defaults of the model that will run the edit (None: a server's, not known
        yet) as the placeholders, its resolutions as the range."""
        self.defaults = defaults
        if defaults is not None:
            self.resolution.setMaximum(defaults.resolution_range[1])
        self._refresh()

    def _refresh(self, *_) -> None:
        """Show the session; widgets' own signals are blocked so nothing echoes back."""
        state = self.session.state if self.session is not None else BLANK
        options = state.options
        widgets = (
            self.prompt,
            self.reference_prompt,
            self.seed,
            self.quality,
            self.advanced,
            *self.option_fields,
            self.steps,
            self.resolution,
        )
        for widget in widgets:
            widget.blockSignals(True)
        self.hint.setText(VIEWS[state.task].hint if self.session else NO_IMAGE_HINT)
        show_text(self.prompt, state.prompt)
        show_text(self.reference_prompt, state.reference_prompt)
        two_image = uses_reference(state.task)
        # a two-image edit's caption says what the result shows: the image's own caption
        # names the old colour or leaves the pasted object out, and guidance then pulls back
        self.prompt.setPlaceholderText(RESULT_PROMPT_HINT if two_image else IMAGE_PROMPT_HINT)
        self.fields.setRowVisible(self.reference_prompt, two_image)
        self.seed.setValue(state.seed)
        self.quality.setCurrentIndex(list(Quality).index(options.quality or self.default_quality))
        customised = replace(options, quality=None) != EditOptions()
        self.advanced.setChecked(customised or self.advanced.isChecked())
        for field in self.option_fields:
            default = None if self.defaults is None else self.defaults.value(state.task, field.name)
            field.show_number(getattr(options, field.name), default)
        self.steps.setValue(options.steps)
        self.resolution.setValue(options.resolution or 0)
        for widget in widgets:
            widget.blockSignals(False)

    def commit(self, *_) -> None:
        """Write what the fields show to the session. The panel's own widgets call it; a
        prompt writes on Return or when it loses the focus, so the window calls it before a
        task button (which takes no focus) switches the prompt shown."""
        if self.session is None:
            return
        custom = self.advanced.isChecked()
        typed = {field.name: field.number() if custom else None for field in self.option_fields}
        options = EditOptions(
            **typed,
            steps=self.steps.value() if custom else EditOptions.steps,
            resolution=(self.resolution.value() or None) if custom else None,
            quality=self.chosen_quality(),
        )
        self.session.set_text(
            prompt=self.prompt.text(),
            reference_prompt=self.reference_prompt.text(),
            seed=self.seed.value(),
            options=options,
        )

    def chosen_quality(self) -> Quality | None:
        """The quality picked in the panel; None where it is the preference's, so the
        session follows the preference until the user picks another."""
        chosen = list(Quality)[self.quality.currentIndex()]
        return None if chosen is self.default_quality else chosen

    def set_default_quality(self, quality: Quality) -> None:
        self.default_quality = Quality(quality)
        self._refresh()

    def reset_to_defaults(self) -> None:
        """The Advanced fields' defaults; the quality choice is not in Advanced and stays."""
        if self.session is not None:
            quality = self.session.state.options.quality
            self.session.set_text(options=EditOptions(quality=quality))

    def set_running(self, running: bool) -> None:
        self.edit_button.setEnabled(not running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.cancel_action.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)  # busy until the first step reports
            self.status.setText("Starting…")

    def set_cancelling(self) -> None:
        """Shown the moment Cancel is pressed; the edit stops within one UNet call."""
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.status.setText("Cancelling…")

    def _cancelling(self) -> bool:
        return self.cancel_button.isVisible() and not self.cancel_button.isEnabled()

    def show_preparing(self, done: int, total: int) -> None:
        if self._cancelling():
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat("Preparing %v of %m")
        self.status.setText(f"Preparing the image: {done} of {total}")

    def show_progress(self, step: int, total: int, remaining_s: float) -> None:
        """The bar and the text show the same count (the bar's own %v of %m)."""
        if self._cancelling():
            return
        self.progress.setRange(0, total)
        self.progress.setValue(step)
        self.progress.setFormat("Step %v of %m")
        left = f", about {remaining_s:.0f} s left" if remaining_s > 0 else ""
        self.status.setText(f"Step {step} of {total}{left}")


RESULT_KEYS = {  # the candidates bar's buttons and the keys that press them on the canvas
    "keep": ("Keep", ("Return", "Enter", "K")),
    "discard": ("Discard", ("Delete", "D")),
    "again": ("Run again", ("R",)),
}


class CandidatesBar(QWidget):
    """Finished edits waiting for a decision: keep, discard, run again, previous / next.

    The decision buttons come first, at fixed places, so a longer result summary never
    shifts them; their keys are actions the window puts on the canvas (`key_actions`)."""

    keep_requested = Signal()
    discard_requested = Signal()
    again_requested = Signal()
    index_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count = 0
        self.index = -1
        self.label = ElidedLabel()  # a long summary ends at a word, whole in the tooltip
        self.previous = QPushButton("◀")
        self.next = QPushButton("▶")
        requests = {
            "keep": self.keep_requested,
            "discard": self.discard_requested,
            "again": self.again_requested,
        }
        self.key_actions: list[QAction] = []
        for name, (text, keys) in RESULT_KEYS.items():
            button = QPushButton(f"{text} ({keys[-1]})")  # the letter: the last key
            button.setToolTip(f"{text}: {' or '.join(keys)}")
            button.clicked.connect(requests[name])
            setattr(self, name, button)
            action = QAction(text, self)
            action.setShortcuts([QKeySequence(key) for key in keys])
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(requests[name])
            self.key_actions.append(action)
        layout = QHBoxLayout(self)
        for widget in (self.keep, self.discard, self.again, self.previous, self.next):
            layout.addWidget(widget)
        layout.addWidget(self.label, 1)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        off_focus_chain(*self.buttons())
        self.previous.clicked.connect(lambda: self.select(self.index - 1))
        self.next.clicked.connect(lambda: self.select(self.index + 1))
        self.show_candidates(0, -1, "")

    def buttons(self) -> tuple[QPushButton, ...]:
        return (self.previous, self.next, self.keep, self.discard, self.again)

    def show_candidates(self, count: int, index: int, summary: str) -> None:
        self.count, self.index = count, index
        self.setVisible(count > 0)
        self.label.setText(f"Result {index + 1} of {count} · {summary}" if index >= 0 else "")
        self.previous.setEnabled(index > 0)
        self.next.setEnabled(0 <= index < count - 1)
        for action in self.key_actions:
            action.setEnabled(0 <= index < count)

    def select(self, index: int) -> None:
        if 0 <= index < self.count and index != self.index:
            self.index_changed.emit(index)
