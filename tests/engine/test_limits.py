"""One home for every limit, and a request checked once per process."""

from __future__ import annotations

import json
import pickle

import pytest

from diffeditor_app.engine import InvalidInput
from diffeditor_app.engine.limits import MAX_STEPS, OPTION_RANGES, STEPS_RANGE
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.server.api import decode_body, encode_request


def counting_validations(monkeypatch) -> list[MoveEdit]:
    """Every MoveEdit validation from now on, in order."""
    seen: list[MoveEdit] = []
    validate = MoveEdit.validate

    def spy(self: MoveEdit) -> None:
        seen.append(self)
        validate(self)

    monkeypatch.setattr(MoveEdit, "validate", spy)
    return seen


def move(steps: int = 2) -> MoveEdit:
    image, mask = square_scene(96, 64)
    return MoveEdit(image=image, mask=mask, offset=(8, 0), steps=steps)


def test_the_app_and_the_engine_share_one_steps_cap():
    assert OPTION_RANGES["steps"] == STEPS_RANGE == (1, MAX_STEPS)
    move(steps=500).checked()  # between the old app cap (200) and the engine's: an edit
    with pytest.raises(InvalidInput, match=str(MAX_STEPS)):
        move(steps=MAX_STEPS + 1).checked()


def test_a_request_is_validated_once_in_its_process(monkeypatch, editor):
    seen = counting_validations(monkeypatch)
    request = move().checked()  # where it is built: the app's snapshot, the CLI
    request.checked()  # a server client's, the worker's: nothing more
    editor.edit(request)  # nor the engine's
    assert seen == [request]


def test_a_refused_request_is_checked_again_when_asked_again(monkeypatch):
    seen = counting_validations(monkeypatch)
    request = move(steps=0)
    for _ in range(2):
        with pytest.raises(InvalidInput, match="steps"):
            request.checked()
    assert len(seen) == 2


def test_a_server_edit_is_validated_once_per_process(monkeypatch):
    seen = counting_validations(monkeypatch)
    request = move().checked()  # the app or the CLI, where the request is built
    edit, _ = decode_body(json.dumps(encode_request(request)).encode(), None)
    assert seen == [request, edit]  # once in the client, once where the server decodes it
    replica = pickle.loads(pickle.dumps(edit))  # the gateway hands its replica the request
    replica.checked()
    assert len(seen) == 2
