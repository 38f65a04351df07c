"""Engine fixtures: one tiny model and editor per session, small synthetic scenes."""

from __future__ import annotations

import pytest

from diffeditor_app.engine import Editor, ModelSpec, load_model
from diffeditor_app.engine.models.testing import square_scene


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    return load_model(ModelSpec(str(tiny_model_dir), device="cpu"))


@pytest.fixture(scope="session")
def session_editor(tiny_model):
    """The one editor of the session's model (a model takes one editor)."""
    return Editor(tiny_model)


@pytest.fixture
def editor(session_editor):
    """The session's editor with an empty prepare cache: the cache keeps the last two images
    prepared, so what an earlier test left there would turn this test's prepare into a hit
    and change its costs (a test would pass or fail by the order the tests ran in)."""
    session_editor.cache.clear()
    return session_editor


@pytest.fixture()
def scene():
    return square_scene()
