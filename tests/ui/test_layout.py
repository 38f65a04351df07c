"""The canvas keeps most of the window, on first start and in every task."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from diffeditor_app.ui.app import create_window, demo_model, prepare_demo
from diffeditor_app.ui.panels import TASK_LABELS


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_the_canvas_keeps_most_of_the_width_in_every_task(qtbot, tmp_path, size):
    demo = create_window(tmp_path / "settings.json", tmp_path / "data", demo_model(), demo=True)
    qtbot.addWidget(demo)
    demo.resize(*size)
    demo.show()
    QApplication.processEvents()
    assert demo.canvas.width() >= 0.6 * demo.width()  # first start, no image
    assert not demo.reference_dock.isVisibleTo(demo)
    prepare_demo(demo)
    for task in TASK_LABELS:  # the tasks the window offers
        demo.set_task(task)
        QApplication.processEvents()
        assert demo.canvas.width() >= 0.6 * demo.width(), task
    demo.worker.shutdown()
