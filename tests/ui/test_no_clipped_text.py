"""No text is cut at the common screen sizes: every visible label and button shows its text
whole, or (a long note) ends at a word with an ellipsis and carries the whole text in its
tooltip. The Preferences show a hub id whole and say what an empty field means."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QTabWidget, QToolButton

from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.ui.preferences import HUB_ID, PreferencesDialog
from diffeditor_app.ui.status_bar import ElidedLabel
from diffeditor_app.ui.window import TOY_NOTE

SIZES = ((1280, 800), (1920, 1080))
SUMMARY = "Move · 50 steps · seed 42 · 12.3 s on cpu; the object was kept whole at its new place"


def elided_with_tooltip(label: ElidedLabel) -> bool:
    shown = label.shown_text()
    return shown != label.text() and shown.endswith("…") and label.toolTip() == label.text()


def clipped(root) -> list[str]:
    """The visible labels and buttons under `root` whose text is wider than their room."""
    found = []
    for kind in (QLabel, QPushButton, QToolButton):
        for widget in root.findChildren(kind):
            text = widget.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            if not widget.isVisible() or not text or "\n" in text:
                continue
            if isinstance(widget, QLabel) and widget.wordWrap():
                continue  # wraps: only a word longer than the line could be cut
            if isinstance(widget, ElidedLabel) and elided_with_tooltip(widget):
                continue  # ends at a word with an ellipsis, whole in its tooltip
            room = widget.contentsRect().width()
            if widget.fontMetrics().horizontalAdvance(text) > room:
                found.append(f"{type(widget).__name__} {text!r} in {room} px")
    return found


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_task_shows_its_text_whole_or_elided_at_a_word(demo, qtbot, size):
    demo.resize(*size)
    for task, action in demo.task_actions.items():
        action.trigger()
        demo.statusBar().showMessage(TOY_NOTE.format(high=128))
        demo.candidates.show_candidates(2, 0, SUMMARY)
        qtbot.wait(20)  # layouts settle
        assert demo.width() == size[0], f"{task.value}: the window cannot be this narrow"
        assert clipped(demo) == [], f"{task.value} at {size}"
    note = demo.statusBar().note
    if note.shown_text() != note.text():  # at 1280 px the long note does not fit
        assert note.toolTip() == TOY_NOTE.format(high=128)
        shown = note.shown_text()
        assert shown.endswith("…") and TOY_NOTE.format(high=128).startswith(shown[:-1])
        assert TOY_NOTE.format(high=128)[len(shown) - 1] in " ,."  # cut between words


def test_the_demo_leaves_move_on_its_box(demo):
    assert demo.session.task is Task.MOVE
    assert demo.tool_actions["box"].isChecked()
    assert demo.canvas.tool == "box"


def test_preferences_show_a_hub_id_whole_and_say_what_empty_means(demo, qtbot):
    dialog = PreferencesDialog(demo.settings, demo)
    qtbot.addWidget(dialog)
    dialog.show()
    tabs = dialog.findChild(QTabWidget)
    placeholders = {}
    for index in range(tabs.count()):
        tabs.setCurrentIndex(index)
        qtbot.wait(10)
        assert clipped(dialog) == []
        for line in tabs.widget(index).findChildren(QLineEdit):
            widest = max(line.placeholderText(), HUB_ID, key=line.fontMetrics().horizontalAdvance)
            assert line.fontMetrics().horizontalAdvance(widest) < line.contentsRect().width()
            placeholders[line.toolTip()] = line.placeholderText()
    assert all("automatic" not in text for text in placeholders.values())
    url = next(text for tip, text in placeholders.items() if "diffeditor serve" in tip)
    assert url == "empty: edits run on this computer"
