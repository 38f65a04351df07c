"""Engine fixtures: one tiny model and editor per session, small synthetic scenes."""

from __future__ import annotations

import pytest

from diffeditor_app.engine import Editor, ModelSpec, load_model
from diffeditor_app.engine.models.testing import square_scene


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    return load_model(ModelSpec(str(tiny_model_dir), device="cpu"))


@pytest.fixture(scope="session")
def editor(tiny_model):
    return Editor(tiny_model)


@pytest.fixture()
def scene():
    return square_scene()
