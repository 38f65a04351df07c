"""The one place that names every task: the `Task` key and each task's `TaskSpec`.

Every per-task table the engine and the front ends need (request types, planners, default
settings, the two-image tasks, wire fields, CLI arguments) is read from `TASKS`.
"""

from __future__ import annotations

import enum
from typing import Any

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.method.plans import Planner
from diffeditor_app.engine.requests import EditRequest, Kind, Point
from diffeditor_app.engine.settings import TaskSettings
from diffeditor_app.engine.tasks import appearance, drag, face, move, paste
from diffeditor_app.engine.tasks.base import TaskSpec


class Task(str, enum.Enum):
    MOVE = "move"
    DRAG = "drag"
    APPEARANCE = "appearance"
    PASTE = "paste"
    FACE = "face"


TASKS: dict[Task, TaskSpec] = {
    Task.MOVE: move.SPEC,
    Task.DRAG: drag.SPEC,
    Task.APPEARANCE: appearance.SPEC,
    Task.PASTE: paste.SPEC,
    Task.FACE: face.SPEC,
}
for _task, _spec in TASKS.items():
    if _spec.name != _task.value:
        raise RuntimeError(f"The task {_task.value} is registered with the spec of {_spec.name}.")
    _spec.request.task = _task  # each request type knows its key; its module need not

REQUEST_TYPES: dict[Task, type[EditRequest]] = {task: spec.request for task, spec in TASKS.items()}
PLANNERS: dict[Task, Planner] = {task: spec.planner for task, spec in TASKS.items()}
DEFAULTS: dict[Task, TaskSettings] = {task: spec.defaults for task, spec in TASKS.items()}


def spec_of(task: Task) -> TaskSpec:
    return TASKS[task]


def two_image_tasks() -> frozenset[Task]:
    return frozenset(task for task, spec in TASKS.items() if spec.two_image)


def _plain(kind: Kind, value: Any) -> Any:
    """A front end's plain value as the request field holds it: lists become tuples and
    point pairs become `Point`s."""
    if kind is Kind.PAIR and value is not None:
        x, y = value
        return (x, y)
    if kind is Kind.BOX and value is not None:
        x0, y0, x1, y1 = value
        return (x0, y0, x1, y1)
    if kind is Kind.POINT_PAIRS:
        return tuple((Point(*handle), Point(*target)) for handle, target in value)
    return value


def request_for(task: Task, **values: Any) -> EditRequest:
    """The request of `task` from plain values (the CLI's arguments, the app's session, the
    server's JSON). A value the task does not declare, or a required one missing, is an
    error with one sentence: front ends pass exactly what the task declares. Not validated:
    its builder calls `checked()` once, before any work."""
    spec = TASKS[task]
    declared = {f.name: f for f in spec.fields()}
    accepted = {"settings", "overrides", *declared}
    unknown = sorted(set(values) - accepted)
    if unknown:
        raise InvalidInput(f"A {task.value} edit has no {', '.join(unknown)}.")
    missing = [
        f.what
        for f in declared.values()
        if f.required and f.default is None and values.get(f.name) is None
    ]
    if missing:
        raise InvalidInput(f"A {task.value} edit needs the {', '.join(missing)}.")
    converted = {
        name: _plain(declared[name].kind, value) if name in declared else value
        for name, value in values.items()
    }
    return spec.request(**converted)
