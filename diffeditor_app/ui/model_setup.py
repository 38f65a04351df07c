"""First run without weights: find them in the cache, download them with progress, or
choose local files; offline, say exactly what to fetch and where to put it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from diffeditor_app.engine.errors import ModelUnavailable
from diffeditor_app.engine.face.landmarks import FACE_EXTRA, LICENCE_NOTE
from diffeditor_app.engine.models.loading import MODELS_DIR, check_sd1_folder
from diffeditor_app.engine.selection.sam import find_sam
from diffeditor_app.runtime.weights import (
    OPTIONAL,
    REQUIRED,
    Download,
    WeightSource,
    offline,
    offline_instructions,
    optional_status,
    status,
)

TOY_MODEL = MODELS_DIR / "toy"  # shipped with the app: edits the toy shape scenes only

STATE_TEXT = {
    "local": "chosen: {path}",
    "model": "the model folder's own",
    "cached": "found in the cache",
    "missing": "missing",
}
CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.ckpt)"


def needs_setup(settings) -> bool:
    """True when the configured base model is neither a local path nor cached."""
    return status(settings)[0].state == "missing"


def check_choice(source: WeightSource, path: Path) -> str | None:
    """Why a chosen path cannot serve this source, or None when it can."""
    if source.setting == "model_source":
        if path.is_file():
            return (
                None
                if path.suffix in {".safetensors", ".ckpt"}
                else "Choose a .safetensors or .ckpt file."
            )
        try:
            check_sd1_folder(path)
        except ModelUnavailable as error:
            return str(error)
        return None
    if source.setting == "sam_model":
        return (
            None
            if find_sam(str(path)) is not None
            else "Choose a Segment Anything folder (config.json and model.safetensors)."
        )
    if source.setting == "image_encoder":
        return (
            None
            if (path / "config.json").is_file()
            else "Choose the CLIP folder (with config.json)."
        )
    return (
        None if path.suffix in {".bin", ".safetensors"} else "Choose a .bin or .safetensors file."
    )


class SourceRow:
    """Title, state, Download / Cancel, Choose…, and a progress bar for one source."""

    def __init__(self, dialog: ModelSetupDialog, source: WeightSource, row: int) -> None:
        self.dialog, self.source = dialog, source
        self.state = QLabel()
        self.download = QPushButton(f"Download (~{source.approx_gb:g} GB)")
        self.choose = QPushButton("Choose…")
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.job: Download | None = None
        grid = dialog.grid
        grid.addWidget(QLabel(f"<b>{source.title}</b><br><small>{source.repo}</small>"), row, 0)
        grid.addWidget(self.state, row, 1)
        grid.addWidget(self.download, row, 2)
        grid.addWidget(self.choose, row, 3)
        grid.addWidget(self.progress, row, 4)
        self.download.clicked.connect(self.toggle_download)
        if source.setting == "model_source":  # a diffusers folder or a single checkpoint
            menu = QMenu(self.choose)
            menu.addAction("A model folder…", self.pick)
            menu.addAction("A single .safetensors or .ckpt file…", self.pick_checkpoint)
            self.choose.setMenu(menu)
        else:
            self.choose.clicked.connect(self.pick)

    def show(self, state: str, path: Path | None) -> None:
        self.state.setText(STATE_TEXT[state].format(path=path))
        can_download = state == "missing" and self.dialog.downloads_allowed
        self.download.setEnabled(can_download or self.job is not None)
        if state == "missing" and not self.dialog.downloads_allowed:
            self.download.setToolTip("Downloads are off (offline mode or the preferences).")

    def toggle_download(self) -> None:
        if self.job is not None:
            self.job.cancel()
            return
        self.job = Download(self.source, self.dialog)
        self.job.progress.connect(self.dialog.on_progress)
        self.job.finished.connect(self.dialog.on_done)
        self.job.failed.connect(self.dialog.on_failed)
        self.job.cancelled.connect(self.dialog.on_done)
        self.download.setText("Cancel")
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.job.start()

    def pick(self) -> None:
        if self.source.setting == "image_prompt":
            chosen, _ = QFileDialog.getOpenFileName(
                self.dialog, self.source.title, "", "Weights (*.bin *.safetensors)"
            )
        else:
            chosen = QFileDialog.getExistingDirectory(self.dialog, self.source.title)
        self.use(chosen)

    def pick_checkpoint(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self.dialog, self.source.title, "", CHECKPOINT_FILTER
        )
        self.use(chosen)

    def use(self, chosen: str) -> None:
        """Check a chosen path and store it in the preferences, or say why not."""
        if not chosen:
            return
        problem = check_choice(self.source, Path(chosen))
        if problem is not None:
            QMessageBox.warning(self.dialog, "Not usable", problem)
            return
        if self.dialog.store(self.source.setting, chosen):
            self.dialog.refresh()


class ModelSetupDialog(QDialog):
    def __init__(self, settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model setup")
        self.settings = settings
        self.downloads_allowed = not offline() and bool(settings.get("allow_download"))
        intro = QLabel(
            "DiffEditor edits with Stable Diffusion 1.5 and its image prompt. Use what is "
            "already in the Hugging Face cache, download what is missing, or choose local files."
        )
        intro.setWordWrap(True)
        self.grid = QGridLayout()
        sources = (*REQUIRED, *OPTIONAL)  # the optional ones last: the app works without them
        self.rows = [SourceRow(self, source, n) for n, source in enumerate(sources)]
        self.instructions = QPlainTextEdit(readOnly=True)
        self.instructions.setMaximumHeight(140)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.toy = buttons.addButton("Try the toy model", QDialogButtonBox.ButtonRole.ActionRole)
        self.toy.setToolTip(
            "The small model shipped with the app, trained on simple shape scenes: no "
            "download, runs on any CPU, but edits only pictures like its sample scenes."
        )
        self.toy.clicked.connect(self.use_toy_model)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(self.grid)
        layout.addWidget(QLabel("Without internet:"))
        layout.addWidget(self.instructions)
        self.face_note = QLabel(
            f"Face editing (optional): <code>{FACE_EXTRA}</code> installs dlib's face "
            f"landmarks. {LICENCE_NOTE}"
        )
        self.face_note.setWordWrap(True)
        layout.addWidget(self.face_note)
        layout.addWidget(buttons)
        self.refresh()

    def use_toy_model(self) -> None:
        if self.store("model_source", str(TOY_MODEL)):
            self.accept()

    def store(self, key: str, value: str) -> bool:
        """Save a choice, or say why it could not be saved (and change nothing)."""
        try:
            self.settings.set(key, value)
        except OSError as error:
            QMessageBox.warning(self, "Cannot save the choice", f"The settings file: {error}")
            return False
        return True

    def refresh(self) -> None:
        found = status(self.settings)
        for row, item in zip(self.rows, [*found, *optional_status(self.settings)], strict=True):
            row.show(item.state, item.path)
        missing = [item.source for item in found if item.state == "missing"]
        self.instructions.setPlainText(offline_instructions(missing))

    def _row(self) -> SourceRow:
        return next(row for row in self.rows if row.job is self.sender())

    @Slot(int, int)
    def on_progress(self, done: int, total: int) -> None:
        row = self._row()
        row.progress.setRange(0, max(total, 1))
        row.progress.setValue(done)

    @Slot()
    def on_done(self, *_) -> None:
        row = self._row()
        row.job = None
        row.download.setText(f"Download (~{row.source.approx_gb:g} GB)")
        row.progress.setVisible(False)
        self.refresh()

    @Slot(str)
    def on_failed(self, message: str) -> None:
        self.on_done()
        QMessageBox.warning(self, "Download failed", message)
