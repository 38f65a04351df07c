"""The DiffEditor algorithm on torch + diffusers, with no Qt anywhere below this package.

Entry points: `load_model` (loading.py), `Editor` (editor.py) and the request types of
requests.py. Everything handed back is numpy / PIL / plain dataclasses.
"""

from diffeditor_app.engine.editor import Editor, EditResult, StepInfo
from diffeditor_app.engine.errors import EditCancelled, EngineError, InvalidInput, ModelUnavailable
from diffeditor_app.engine.imaging.images import SourceImage, load_image, load_mask
from diffeditor_app.engine.models.loading import load_model
from diffeditor_app.engine.models.model import LoadedModel, ModelSpec
from diffeditor_app.engine.requests import (
    AppearanceEdit,
    DragEdit,
    FaceEdit,
    MoveEdit,
    PasteEdit,
    Point,
)
from diffeditor_app.engine.settings import Schedule, Task, TaskSettings

__all__ = [
    "AppearanceEdit",
    "DragEdit",
    "EditCancelled",
    "EditResult",
    "Editor",
    "EngineError",
    "FaceEdit",
    "InvalidInput",
    "LoadedModel",
    "ModelSpec",
    "ModelUnavailable",
    "MoveEdit",
    "PasteEdit",
    "Point",
    "Schedule",
    "SourceImage",
    "StepInfo",
    "Task",
    "TaskSettings",
    "load_image",
    "load_mask",
    "load_model",
]
