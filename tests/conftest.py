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
def collect_qt_garbage_at_the_end():
    """Free every Qt wrapper left in a reference cycle while the QApplication still runs:
    the GUI tests turn automatic collection off while a worker exists (GuiCollector)."""
    yield
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    app = QCoreApplication.instance()
    if app is not None:
        gc.collect()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()


_exit_status = 0


def pytest_sessionfinish(session, exitstatus):
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config):
    """End the test process without interpreter finalization, which destroys the remaining
    PySide6 wrappers in an order Qt does not allow ("shared QObject was deleted directly")
    after every test has passed. The report is complete by now; the exit status is
    pytest's own."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
