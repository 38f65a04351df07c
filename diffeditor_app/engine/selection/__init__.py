"""Selection tools: the magic wand, GrabCut from a box, Segment Anything, and refining.

Qt-free like the rest of the engine: numpy masks in and out, plain dataclasses.
"""

from diffeditor_app.engine.selection.grabcut import GrabCutSettings, grabcut
from diffeditor_app.engine.selection.prompts import (
    Box,
    Click,
    Combine,
    Method,
    SelectionPrompt,
    SelectionResult,
    combine,
    iou,
)
from diffeditor_app.engine.selection.select import SelectionRequest, choose_method, select
from diffeditor_app.engine.selection.wand import WandSettings, magic_wand, wand_clicks

__all__ = [
    "Box",
    "Click",
    "Combine",
    "GrabCutSettings",
    "Method",
    "SelectionPrompt",
    "SelectionRequest",
    "SelectionResult",
    "WandSettings",
    "choose_method",
    "combine",
    "grabcut",
    "iou",
    "magic_wand",
    "select",
    "wand_clicks",
]
