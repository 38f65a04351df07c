"""Start the desktop app. Until the canvas lands, the window says how to edit headless."""

from __future__ import annotations

import sys

from diffeditor_app import __version__

PLACEHOLDER = (
    "DiffEditor {version}\n\n"
    "The editing canvas is being built. Meanwhile every edit runs headless:\n\n"
    "diffeditor models tiny tiny-model\n"
    "diffeditor edit move --model tiny-model --image IN.png --mask OBJECT.png "
    "--offset 8,0 --out OUT.png"
)


def build_window(demo: bool = False):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel, QMainWindow

    window = QMainWindow()
    window.setWindowTitle("DiffEditor" + (" (demo)" if demo else ""))
    label = QLabel(PLACEHOLDER.format(version=__version__))
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setMargin(32)
    window.setCentralWidget(label)
    window.resize(760, 360)
    return window


def run(demo: bool = False) -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    window = build_window(demo)
    window.show()
    return app.exec()
