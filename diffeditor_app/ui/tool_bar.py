"""The Tools tool bar: one checkable action per canvas tool, each with its letter key."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QToolBar, QWidget

from diffeditor_app.ui.selection_tools import SELECTION_TOOLS

TOOLS = (  # name (the canvas's tool table), label, key
    ("brush", "Brush", "B"),
    ("eraser", "Eraser", "E"),
    ("points", "Points", "P"),
    ("box", "Move box", "V"),
    ("paste", "Paste layer", "L"),
    ("landmarks", "Face points", "F"),
    ("pan", "Pan", "H"),
    *SELECTION_TOOLS,
)


def tool_bar(parent: QWidget, choose: Callable[[str], None]) -> tuple[QToolBar, dict[str, QAction]]:
    """The bar and its actions by tool name; triggering one calls `choose(name)`."""
    bar = QToolBar("Tools", parent)
    bar.setObjectName("tools")
    actions: dict[str, QAction] = {}
    group = QActionGroup(parent)
    for name, label, key in TOOLS:
        action = QAction(label, parent, checkable=True)
        action.setShortcut(QKeySequence(key))
        action.setToolTip(f"{label} ({key})")
        action.triggered.connect(lambda _=False, n=name: choose(n))
        group.addAction(action)
        bar.addAction(action)
        actions[name] = action
    return bar, actions
