"""Project files from a stranger: crafted fields, duplicate members and keys, endless files,
pixel bombs inside every size limit, and a fuzzed manifest all end in one sentence (or a
session), never another exception, a hang or gigabytes of memory."""

from __future__ import annotations

import json
import os
import threading
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffeditor_app.document import project
from diffeditor_app.document.project import load_project, save_project
from diffeditor_app.document.state import SessionState
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.models.testing import square_scene
from tests.document.test_project_files import (
    craft,
    good,  # noqa: F401  (the fixture)
    manifest,
    members,
    png_header_only,
    refused,
    with_manifest,
)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HUGE = 10**400  # parses as a Python int: past any float


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda m: m.update(masks=[{}]), ["masks"]),
        (lambda m: m.update(masks=[["object"]]), ["masks"]),
        (lambda m: m.update(task=["move"]), ["task"]),
        (lambda m: m.update(task={"move": 1}), ["task"]),
        (lambda m: m.update(version=HUGE), ["newer DiffEditor"]),
        (lambda m: m.update(seed=HUGE), ["seed", "401 digits"]),
        (lambda m: m.update(seed=-HUGE), ["seed"]),
        (lambda m: m["box"].update(dx=HUGE), ["box.dx"]),
        (lambda m: m.update(kept=HUGE), ["kept"]),
        (lambda m: m["options"].update(steps=HUGE), ["options.steps"]),
        (lambda m: m.update(prompts={"\n": None}), ["prompts", "'\\n'"]),  # found by fuzzing
        (lambda m: m["face_setup"].update(groups=[[]]), ["face_setup.groups"]),  # fuzzing too
    ],
)
def test_crafted_fields_are_one_sentence(good, change, fragments):  # noqa: F811
    refused(with_manifest(good, change), *fragments)


def test_a_manifest_naming_a_key_twice_is_refused(good):  # noqa: F811
    text = json.dumps(manifest(good))
    doubled = text[:-1] + ', "task": "paste"}'
    refused(with_manifest(good, lambda m: doubled), "task", "twice")


def test_an_archive_holding_a_member_twice_is_refused(good, tmp_path):  # noqa: F811
    twice = tmp_path / "twice.diffedit"
    with zipfile.ZipFile(twice, "w") as archive:
        for name, data in members(good).items():
            archive.writestr(name, data)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("project.json", b'{"format": "diffedit"}')
    refused(twice, "project.json", "twice")


def _loads_within(path: Path, seconds: float) -> BaseException | None:
    """Load in a thread; a load that never returns (a FIFO, /dev/zero) fails the test
    instead of hanging the suite."""
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_project(path)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"loading {path} did not return"
    return outcome[0]


@pytest.mark.parametrize("kind", ["fifo", "zero-link", "folder"])
def test_only_regular_files_are_read(tmp_path, kind):
    path = tmp_path / "x.diffedit"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero-link":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    error = _loads_within(path, 20)
    assert isinstance(error, InvalidInput), error
    assert "not a file" in str(error) and "\n" not in str(error)


def test_kept_results_past_the_pixel_budget_are_refused_from_their_headers(good, monkeypatch):  # noqa: F811
    """Five kept results whose headers claim 240 MP each: 1.2 GP in a file of a few KB."""
    decoded: list[str] = []
    original_image = project._image
    monkeypatch.setattr(
        project, "_image", lambda a, p, name: decoded.append(name) or original_image(a, p, name)
    )
    bomb = png_header_only(20_000, 12_000)
    kept = {f"kept/{n:03d}.png": bomb for n in range(5)}
    data = manifest(good)
    data["kept"] = 5
    crafted = craft(good, "kept.diffedit", {**kept, "project.json": json.dumps(data).encode()})
    assert crafted.stat().st_size < 100_000
    refused(crafted, "pixels together", "400,000,000")
    assert decoded == []  # refused before any image was decoded


def test_a_session_past_the_budget_is_not_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(project, "MAX_PROJECT_PIXELS", 5_000)
    image, _ = square_scene(64, 48)
    state = SessionState.for_image(image)
    state.kept = [image, image]
    path = tmp_path / "big.diffedit"
    with pytest.raises(InvalidInput, match="discard some kept results"):
        save_project(state, path)
    assert not path.exists()


@pytest.mark.parametrize(
    "text",
    [
        '"' + '\\"' * 80_000,  # 160 KB unterminated string of escaped quotes: quadratic before
        "[" * 80_000,
        '{"a": "' + "[" * 80_000 + '"}',
        '"\\\\"' * 40_000,
    ],
)
def test_the_nesting_count_is_one_pass(good, text):  # noqa: F811
    outcome: list[int] = []
    thread = threading.Thread(target=lambda: outcome.append(project._nesting_depth(text)))
    thread.start()
    thread.join(20)
    assert outcome, "the nesting count did not return"
    assert outcome[0] in (0, 1, 80_000)
    error = _loads_within(with_manifest(good, lambda m: text), 60)  # and through the loader
    assert isinstance(error, InvalidInput), error


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "format",
        "version",
        "task",
        "prompts",
        "reference_prompt",
        "seed",
        "options",
        "box",
        "paste",
        "pairs",
        "masks",
        "kept",
        "has_reference",
        "prompt",
        "face_setup",
    ]
)
FACE_FIELDS = st.sampled_from(["chosen", "groups", "sliders", "reference", "dragged"])


def loads_or_says_one_sentence(path: Path) -> None:
    try:
        state = load_project(path)
    except InvalidInput as error:
        assert "\n" not in str(error) and str(error).endswith(".")
    else:
        assert isinstance(state, SessionState)


@FUZZ
@given(changes=st.dictionaries(FIELDS, JSON, min_size=1, max_size=4))
def test_fuzzed_manifest_fields_end_in_a_session_or_one_sentence(good, changes):  # noqa: F811
    loads_or_says_one_sentence(with_manifest(good, lambda m: m.update(changes)))


@FUZZ
@given(changes=st.dictionaries(FACE_FIELDS, JSON, min_size=1, max_size=3))
def test_a_fuzzed_face_set_up_ends_in_a_session_or_one_sentence(good, changes):  # noqa: F811
    loads_or_says_one_sentence(with_manifest(good, lambda m: m["face_setup"].update(changes)))


@FUZZ
@given(text=st.text(max_size=300) | JSON.map(json.dumps))
def test_fuzzed_manifest_text_ends_in_a_session_or_one_sentence(good, text):  # noqa: F811
    try:
        load_project(with_manifest(good, lambda m: text))
    except InvalidInput as error:
        assert "\n" not in str(error)
