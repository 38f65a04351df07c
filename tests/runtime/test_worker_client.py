"""The worker thread: tagged messages in the GUI thread, stale jobs dropped, failures as
sentences, one model at a time, a clean shutdown."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, QThread, Slot
from PySide6.QtWidgets import QApplication

from diffeditor_app.engine import MoveEdit
from diffeditor_app.engine.loading import ModelSpec
from diffeditor_app.engine.testing import square_scene, write_tiny_model
from diffeditor_app.runtime.worker import WorkerClient

TIMEOUT_MS = 120_000


@pytest.fixture
def client(qapp):
    client = WorkerClient()
    yield client
    client.shutdown()


def move(steps: int = 3, offset=(8, 0)) -> MoveEdit:
    image, mask = square_scene()
    return MoveEdit(image=image, mask=mask, offset=offset, steps=steps)


class Receiver(QObject):
    """Records which thread delivers the messages."""

    def __init__(self) -> None:
        super().__init__()
        self.threads = []
        self.jobs = []

    @Slot(int, object)
    def on_preview(self, job, preview) -> None:
        self.threads.append(QThread.currentThread())
        self.jobs.append(job)


def test_messages_arrive_in_the_gui_thread(client, qtbot, tiny_model_dir):
    receiver = Receiver()
    client.preview.connect(receiver.on_preview)
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    with qtbot.waitSignal(client.finished, timeout=TIMEOUT_MS) as done:
        job = client.submit(move(), spec)
    assert done.args[0] == job and done.args[1].image.size == (96, 64)
    assert receiver.jobs == [job] * 3
    assert all(t is QApplication.instance().thread() for t in receiver.threads)
    assert not client.busy


def test_a_newer_job_silences_the_older_one(client, qtbot, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    seen = []
    for name in ("preview", "finished", "cancelled", "failed"):
        getattr(client, name).connect(lambda job, *rest, n=name: seen.append((n, job)))
    first = client.submit(move(steps=20), spec)
    with qtbot.waitSignal(client.finished, timeout=TIMEOUT_MS):
        second = client.submit(move(steps=3), spec)
    assert first != second
    assert all(job == second for _, job in seen)
    assert ("finished", second) in seen


def test_failures_are_sentences_and_the_worker_survives(client, qtbot, tiny_model_dir, tmp_path):
    with qtbot.waitSignal(client.failed, timeout=TIMEOUT_MS) as failed:
        client.submit(move(), ModelSpec(str(tmp_path / "nowhere"), device="cpu"))
    assert "does not exist" in failed.args[1] and "\n" not in failed.args[1]
    with qtbot.waitSignal(client.failed, timeout=TIMEOUT_MS) as failed:
        client.submit(move(offset=(500, 0)), ModelSpec(str(tiny_model_dir), device="cpu"))
    assert "outside the image" in failed.args[1]
    with qtbot.waitSignal(client.finished, timeout=TIMEOUT_MS):
        client.submit(move(), ModelSpec(str(tiny_model_dir), device="cpu"))


def test_one_model_at_a_time(client, qtbot, tiny_model_dir, tmp_path):
    other = write_tiny_model(tmp_path / "other", seed=1)
    loading = []
    client.loading.connect(lambda job, message: loading.append(message))
    for folder in (tiny_model_dir, tiny_model_dir, other):
        with qtbot.waitSignal(client.finished, timeout=TIMEOUT_MS):
            client.submit(move(), ModelSpec(str(folder), device="cpu"))
    assert len(loading) == 2  # the second job reused the loaded model
    assert client.worker.models.spec.source == str(other)


def test_shutdown_joins_the_thread_and_can_repeat(qapp):
    client = WorkerClient()
    assert client.thread.isRunning()
    client.shutdown()
    assert not client.thread.isRunning()
    client.shutdown()
