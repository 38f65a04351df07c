"""A task is declared once: one engine module per task, one document and one ui declaration,
each in one registry that covers every task; nothing else in the package names two tasks."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pytest

from diffeditor_app.cli import build_parser
from diffeditor_app.document.tasks import DOCUMENT_TASKS
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.requests import EditRequest, Kind
from diffeditor_app.engine.tasks.registry import TASKS, Task, request_for
from diffeditor_app.server.api import image_fields, value_fields
from diffeditor_app.ui.tasks import VIEWS

PACKAGE = Path(__file__).resolve().parents[1] / "diffeditor_app"
REGISTRIES = {  # the only package files that may name more than one task
    PACKAGE / "engine" / "tasks" / "registry.py",
    PACKAGE / "document" / "tasks.py",
    PACKAGE / "ui" / "tasks.py",
}


def names_of(task: Task) -> re.Pattern[str]:
    """How code names a task: its key, its request or energy class, its planner, its
    follow-up, or its value as a string literal."""
    word, cap = task.value, task.value.capitalize()
    return re.compile(
        rf"Task\.{task.name}\b|\b{cap}(Edit|Energy)\b|\bplan_{word}\b|\b_follow_{word}\b"
        rf"|[\"']{word}[\"']"
    )


def files_naming_several_tasks() -> set[Path]:
    patterns = [names_of(task) for task in Task]
    found = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if sum(1 for pattern in patterns if pattern.search(text)) >= 2:
            found.add(path)
    return found


def test_only_the_registries_name_several_tasks():
    found = files_naming_several_tasks()
    assert found == REGISTRIES  # the registries themselves are found: the check can fail


@pytest.mark.parametrize(
    "registry", [TASKS, DOCUMENT_TASKS, VIEWS], ids=["engine", "document", "ui"]
)
def test_each_registry_covers_every_task(registry):
    assert list(registry) == list(Task)


def test_each_request_type_knows_its_task_and_declares_its_fields():
    for task, spec in TASKS.items():
        assert spec.name == task.value and spec.request.task is task
        assert issubclass(spec.request, EditRequest)
        kinds = {f.kind for f in spec.fields()}
        assert Kind.IMAGE in kinds  # every task edits an image


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(
        action.choices
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    )


def test_the_cli_has_a_subcommand_per_task_with_the_requests_own_fields():
    edit = subcommands(subcommands(build_parser())["edit"])
    assert list(edit) == [task.value for task in Task]
    for task, spec in TASKS.items():
        flags = {option for action in edit[task.value]._actions for option in action.option_strings}
        assert {f.flag for f in spec.own_fields()} <= flags


def test_the_wire_schema_is_the_request_fields():
    for task, spec in TASKS.items():
        wire = {*value_fields(task), *(f.name for f in image_fields(task))}
        assert wire == {f.name for f in spec.fields()}


def test_request_for_refuses_a_value_the_task_does_not_declare():
    image = SourceImage(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InvalidInput, match="A paste edit has no fill_hint"):
        request_for(Task.PASTE, image=image, fill_hint=None)


def test_request_for_names_a_missing_value():
    image = SourceImage(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InvalidInput, match="A drag edit needs the mask"):
        request_for(Task.DRAG, image=image)
