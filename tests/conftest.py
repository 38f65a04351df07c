"""Shared fixtures: no network, one tiny random model per test session."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# The property tests explore new inputs on every developer run (that is how they find what
# nobody listed); in CI (CI=true) they replay one fixed sequence, so a submission's result
# depends on its code alone. A failure found locally becomes a listed case.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Before anything imports huggingface_hub, which reads these once at import time.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random SD1.x model folder (diffusers layout), written once per session."""
    from diffeditor_app.engine.models.testing import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def break_file_writes(monkeypatch):
    """Call it to make every atomic write fail from then on, as on a read-only disk (the
    final rename raises); the test's `monkeypatch.undo()` mends it."""
    import os

    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    return lambda: monkeypatch.setattr(os, "replace", broken_replace)


@pytest.fixture
def connections(monkeypatch) -> list[object]:
    """Every network connection the test's code tries, refused and listed. "Fails fast
    offline" is checked as "never tried the network": a stopwatch would pass a slow retry on a
    fast machine and fail a quick lookup on a loaded one."""
    import socket

    tried: list[object] = []

    def refuse(address: object, *args: object, **kwargs: object):
        tried.append(address)
        raise OSError(101, "the tests have no network")

    monkeypatch.setattr(socket.socket, "connect", lambda self, address: refuse(address))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: refuse(address))
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return tried


@pytest.fixture(scope="session", autouse=True)
def release_qt_at_the_end():
    """Delete what the GUI tests left while the QApplication and Python still run: every
    top-level widget (closed windows are only hidden), then the Qt wrappers held by reference
    cycles (the GUI tests turn automatic collection off while a worker exists). Left to the
    interpreter's exit, PySide's clean-up deletes every object Python still owns one by one
    in no fixed order, and reaches widgets already deleted with their parent window: the
    process then crashes ("shared QObject was deleted directly") after every test passed."""
    yield
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    app = QCoreApplication.instance()
    if app is None:
        return
    if isinstance(app, QApplication):
        for widget in QApplication.topLevelWidgets():
            if widget.parent() is None:
                widget.close()
                widget.deleteLater()
    gc.collect()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()
