"""After a task switch the tool fits the task, and the brush fits the image: a few per cent
of its shorter side, remembered per image size class (issue 24)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from diffeditor_app.document import commands
from diffeditor_app.document.state import MaskName
from diffeditor_app.engine.tasks.registry import Task


def scene(tmp_path, name: str, width: int, height: int):
    path = tmp_path / name
    Image.new("RGB", (width, height), (120, 140, 90)).save(path)
    return path


def test_each_task_chooses_its_tool_once_its_mask_is_painted(tiny_window, tmp_path):
    window = tiny_window
    window.files.open_image(scene(tmp_path, "a.png", 96, 64))
    window.task_actions[Task.MOVE].trigger()
    assert window.canvas.tool == "brush"  # nothing to move yet: paint the object first
    full = np.ones((64, 96), bool)
    for name in (MaskName.OBJECT, MaskName.REGION):
        commands.stroke(window.session, name, (0, 0, 96, 64), full, erase=False)
    expected = {
        Task.DRAG: "points",
        Task.MOVE: "box",
        Task.PASTE: "paste",
        Task.APPEARANCE: "brush",
    }
    for task, tool in expected.items():
        window.task_actions[task].trigger()
        assert window.canvas.tool == tool and window.tool_actions[tool].isChecked(), task


def test_the_brush_fits_the_image_and_is_remembered_per_size_class(tiny_window, tmp_path, qtbot):
    window = tiny_window
    window.files.open_image(scene(tmp_path, "toy.png", 64, 64))
    assert window.canvas.brush_size == 3  # 5 % of 64 px, not 40 px
    window.files.open_image(scene(tmp_path, "photo.png", 1536, 1024))
    assert window.canvas.brush_size == 51
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_BracketRight)  # the user's size for photos
    photo_size = window.canvas.brush_size
    assert photo_size > 51
    window.files.open_image(scene(tmp_path, "toy2.png", 64, 60))  # the toy class again
    assert window.canvas.brush_size == 3
    window.files.open_image(scene(tmp_path, "photo2.png", 1200, 1000))  # photos again
    assert window.canvas.brush_size == photo_size
    assert f"Brush {photo_size} px" in window.brush_label.text()
