"""The Preferences dialog, built from the settings schema: one page per group, one widget
per declared setting, so a new preference needs no dialog code."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from diffeditor_app.runtime.settings import GROUPS, Setting, SettingsStore, settings_in

HUB_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # the widest usual value: shown whole
LINE_EDIT_PADDING = 24  # pixels: a line edit's frame and inner margins


def text_width(line: QLineEdit, *texts: str) -> int:
    """Pixels a line edit needs to show each text whole (its frame and margins included)."""
    widest = max(line.fontMetrics().horizontalAdvance(text) for text in texts)
    margins = line.textMargins()
    return widest + margins.left() + margins.right() + LINE_EDIT_PADDING


class Field:
    """A widget for one setting, with a way to read the value back."""

    def __init__(self, setting: Setting, value: Any) -> None:
        self.setting = setting
        if setting.choices is not None:
            self.widget = QComboBox()
            self.widget.addItems(list(setting.choice_labels or map(str, setting.choices)))
            self.widget.setCurrentIndex(setting.choices.index(value))
        elif setting.offered is not None:  # found at run time; a stored other value stays
            offered = setting.offered()
            self.widget = QComboBox()
            self.widget.addItems([*offered, *([] if value in offered else [str(value)])])
            self.widget.setCurrentText(str(value))
        elif setting.kind is bool:
            self.widget = QCheckBox()
            self.widget.setChecked(bool(value))
        elif setting.kind is int and not setting.optional:
            self.widget = QSpinBox(minimum=int(setting.minimum or 0))
            self.widget.setMaximum(int(setting.maximum if setting.maximum is not None else 10**6))
            self.widget.setValue(int(value))
        elif setting.kind is float and not setting.optional:
            self.widget = QDoubleSpinBox(decimals=2, singleStep=0.05)
            self.widget.setRange(setting.minimum or 0.0, setting.maximum or 10**6)
            self.widget.setValue(float(value))
        else:  # text, and optional numbers typed as text: empty means automatic
            self.widget = QLineEdit("" if value is None else str(value))
            self.widget.setPlaceholderText(f"empty: {setting.empty}" if setting.empty else "")
            self.widget.setMinimumWidth(text_width(self.widget, HUB_ID, setting.empty))
            if setting.secret:
                self.widget.setEchoMode(QLineEdit.EchoMode.Password)
        self.widget.setToolTip(setting.help)

    def value(self) -> Any:
        s, w = self.setting, self.widget
        if s.choices is not None:
            return s.choices[w.currentIndex()]
        if isinstance(w, QComboBox):
            return w.currentText()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            return w.value()
        text = w.text().strip()
        if not text and s.optional:
            return None
        if s.kind not in (int, float):
            return text
        try:
            return s.kind(text)
        except ValueError:
            raise ValueError(f"{s.key} must be a number; got {text!r}.") from None


class PreferencesDialog(QDialog):
    def __init__(self, settings: SettingsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.fields: list[Field] = []
        tabs = QTabWidget()
        for group in GROUPS:
            declared = [s for s in settings_in(group) if s.in_dialog]
            if not declared:
                continue
            page = QWidget()
            form = QFormLayout(page)
            for setting in declared:
                field = Field(setting, settings.get(setting.key))
                form.addRow(setting.label, field.widget)
                self.fields.append(field)
            tabs.addTab(page, group.capitalize())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(self.restore_defaults)
        self.error = QLineEdit(readOnly=True, frame=False)
        self.error.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def restore_defaults(self) -> None:
        defaults = {field.setting.key: field.setting.default for field in self.fields}
        if self._save(defaults):
            self.reject()

    def accept(self) -> None:
        """Apply every field; a bad value keeps the dialog open with the reason."""
        try:
            values = {
                field.setting.key: field.setting.validate(field.value()) for field in self.fields
            }
        except ValueError as error:
            self._show_error(str(error))
            return
        if self._save(values):
            super().accept()

    def _save(self, values: dict) -> bool:
        """Write all values at once; when the file cannot be written nothing changes and
        the dialog stays open with the reason."""
        try:
            self.settings.set_all(values)
        except OSError as error:
            self._show_error(f"Cannot save the preferences: {error}")
            return False
        return True

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(True)
