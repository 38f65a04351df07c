"""`TaskSpec`: what one task module declares, read by the registry and every front end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.method.plans import Planner
from diffeditor_app.engine.requests import EditRequest, ReferenceEdit, WireField, wire_fields
from diffeditor_app.engine.settings import TaskSettings


@dataclass(frozen=True)
class Scene:
    """A test scene every task can build an example edit on (models/testing.py draws it):
    an object on an image, a region around it and a reference of another size."""

    image: SourceImage
    mask: np.ndarray  # the object
    region: np.ndarray  # a region around the object, for edits of a region
    reference: SourceImage
    reference_mask: np.ndarray
    steps: int


@dataclass(frozen=True)
class TaskSpec:
    """One task as the engine knows it."""

    name: str  # the task's key: the CLI subcommand, the JSON `task`, the project file's
    summary: str  # one line for the CLI's help
    request: type[EditRequest]
    defaults: TaskSettings  # the tuned numbers (ALGORITHM.md §9)
    planner: Planner
    examples: Callable[[Scene], dict[str, EditRequest]]  # named edits for tests and benches

    @property
    def two_image(self) -> bool:
        """Whether the task edits the image with an object from a reference image."""
        return issubclass(self.request, ReferenceEdit)

    def fields(self) -> tuple[WireField, ...]:
        """Every field a front end fills, the shared ones first."""
        return wire_fields(self.request)

    def own_fields(self) -> tuple[WireField, ...]:
        """The fields this task adds to those every request has (the CLI's task arguments)."""
        shared = {spec.name for spec in wire_fields(EditRequest)}
        return tuple(spec for spec in self.fields() if spec.name not in shared)
