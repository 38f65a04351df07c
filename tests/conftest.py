"""Shared fixtures: no network, one tiny random model per test session."""

from __future__ import annotations

import os

import pytest

# Before anything imports huggingface_hub, which reads these once at import time.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random SD1.x model folder (diffusers layout), written once per session."""
    from diffeditor_app.engine.testing import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("tiny"))
