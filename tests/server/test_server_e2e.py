"""`diffeditor serve` end to end on loopback: one server (two CPU replicas of the tiny model)
for the whole module, started as a child process and stopped by its own process id.

The replica-kill test runs last: it leaves Ray restarting a replica."""

from __future__ import annotations

import pytest

pytest.importorskip("ray", reason="needs the [serve] extra (Ray Serve)")
pytest.importorskip("fastapi", reason="needs the [serve] extra (FastAPI)")

import base64
import io
import json
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

from diffeditor_app.cli import main
from diffeditor_app.engine import EditCancelled, Editor, InvalidInput, ModelSpec
from diffeditor_app.engine.models.loading import load_model
from diffeditor_app.engine.models.model import PROFILE_FILE, ModelProfile
from diffeditor_app.engine.models.testing import scene_requests, square_scene, tinted_scene
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.runtime.model_defaults import ModelDefaults
from diffeditor_app.server.api import CLIENT_HEADER, EDITS_PATH, INFO_PATH, encode_request
from diffeditor_app.server.client import RemoteEditor, ServerAddress, ServerUnavailable
from diffeditor_app.server.process import free_port
from tests.server.conftest import cli_move, serving

TOKEN = "loopback-test-token"
WIDTH, HEIGHT = 96, 64  # square_scene()'s size, inside the tiny model's range
QUEUE_LIMIT = 2
MAX_MEGAPIXELS = 0.1  # 100 000 pixels: the scenes pass, a 400 x 300 image does not
MAX_UPLOAD_MB = 1
HTTP_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    args = [
        "--model", str(tiny_model_dir), "--device", "cpu", "--replicas", "2",
        "--host", "127.0.0.1", "--port", str(free_port()),
        "--max-upload-mb", str(MAX_UPLOAD_MB), "--max-megapixels", str(MAX_MEGAPIXELS),
        "--queue-limit", str(QUEUE_LIMIT),
    ]  # fmt: skip
    yield from serving(args, TOKEN, log)


@pytest.fixture(scope="module")
def address(server) -> ServerAddress:
    return ServerAddress(server.url, TOKEN)


@pytest.fixture(scope="module")
def local_editor(tiny_model_dir):
    """The same model in this process, on one thread as a CPU replica runs (two threads
    beside the server's processes would fight over two cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Editor(load_model(ModelSpec(str(tiny_model_dir), device="cpu")))
    torch.set_num_threads(threads)


def move(run: int = 0, steps: int = 4, seed: int = 42) -> MoveEdit:
    image, mask = tinted_scene(run, WIDTH, HEIGHT) if run else square_scene(WIDTH, HEIGHT)
    return MoveEdit(image=image, mask=mask, offset=(14, 3), steps=steps, seed=seed)


def headers(token: str | None = TOKEN, client: str | None = None) -> dict[str, str]:
    found = {"Authorization": f"Bearer {token}"} if token else {}
    return {**found, **({CLIENT_HEADER: client} if client else {})}


def test_info_lists_the_model_and_the_limits(address, tiny_model_dir):
    info = httpx.get(address.url + INFO_PATH, headers=headers(), timeout=HTTP_TIMEOUT_S).json()
    assert info["model"] == str(tiny_model_dir)
    assert info["replicas"] == 2 and info["device"] == "cpu" and info["api"] == 1
    assert info["limits"]["queue_per_client"] == QUEUE_LIMIT
    assert info["limits"]["max_megapixels"] == MAX_MEGAPIXELS
    defaults = ModelDefaults.of_info(info, address.url)  # what the app's Advanced fields show
    tiny = ModelProfile.from_file(tiny_model_dir / PROFILE_FILE)
    assert info["profile"] == tiny.to_json()
    assert defaults.value(Task.DRAG, "eta_in") == tiny.task_settings(Task.DRAG).eta_in


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_missing_or_wrong_token_gets_401(address, token):
    for method, path in (("GET", INFO_PATH), ("POST", EDITS_PATH)):
        body = encode_request(move()) if method == "POST" else None
        response = httpx.request(
            method, address.url + path, headers=headers(token), json=body, timeout=HTTP_TIMEOUT_S
        )
        assert response.status_code == 401
        assert "token" in response.json()["error"]
    with pytest.raises(InvalidInput, match="token"):
        RemoteEditor(ServerAddress(address.url, token or "x")).edit(move())


def test_an_edit_through_the_server_gives_the_local_pixels(address, local_editor):
    request = move(steps=6, seed=7)
    remote = RemoteEditor(address).edit(request)
    local = local_editor.edit(request)
    assert np.array_equal(np.asarray(remote.image), np.asarray(local.image))
    assert (remote.unet_forward, remote.unet_backward) == (local.unet_forward, local.unet_backward)
    assert remote.seed == 7 and remote.image.size == (WIDTH, HEIGHT)


def test_a_face_edit_through_the_server_gives_the_local_pixels(address, local_editor):
    """The face task travels like any other: its crop is edited and put back on the replica."""
    request = replace(scene_requests(*square_scene(WIDTH, HEIGHT), steps=4)["face"], seed=7)
    remote = RemoteEditor(address).edit(request)
    local = local_editor.edit(request)
    assert np.array_equal(np.asarray(remote.image), np.asarray(local.image))
    assert remote.image.size == (WIDTH, HEIGHT) and remote.working_size == local.working_size


def test_a_second_edit_of_an_image_reports_no_prepare_work(address):
    """Two replicas: every image's second edit lands where its first one prepared it."""
    editor = RemoteEditor(address)
    for run in (101, 102, 103):
        first = editor.edit(move(run, seed=1))
        second = editor.edit(move(run, seed=2))
        assert first.prepare_unet_forward > 0 and not first.prepared_from_cache
        assert second.prepare_unet_forward == 0 and second.prepared_from_cache
        assert second.prepare_s == 0.0


def test_progress_previews_and_cancel(address):
    steps, seen = [], []

    def on_step(info) -> None:
        steps.append(info.step)
        seen.append(info.preview.shape if info.preview is not None else None)

    RemoteEditor(address).edit(move(steps=5), on_step=on_step)
    assert steps == [0, 1, 2, 3, 4]
    assert seen == [(64, 64, 3)] * 5  # every step's preview (no budget), the working size

    def cancel_after_two() -> None:
        if len(late) >= 2:
            raise EditCancelled("The edit was cancelled.")

    late: list[int] = []
    with pytest.raises(EditCancelled):
        RemoteEditor(address).edit(
            move(steps=200), on_step=lambda info: late.append(info.step), interrupt=cancel_after_two
        )
    assert 2 <= len(late) < 50  # the call ended with the cancel, not with the 200 steps


def test_the_queue_limit_is_per_client_and_cancel_frees_the_slot(address):
    """A client is its token and address: a made-up client id shares its slots, another
    address (127.0.0.2) has its own."""
    body = encode_request(move(steps=1000))  # long enough to be cancelled, not finished
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
    with (
        httpx.Client(base_url=address.url, timeout=HTTP_TIMEOUT_S) as http,
        httpx.Client(base_url=address.url, timeout=HTTP_TIMEOUT_S, transport=elsewhere) as other,
        ExitStack() as held,
    ):

        def submit(via: httpx.Client, client: str) -> tuple[str, Iterator[str]]:
            stream = via.stream("POST", EDITS_PATH, json=body, headers=headers(client=client))
            response = held.enter_context(stream)
            assert response.status_code == 200
            lines = response.iter_lines()
            return json.loads(next(lines))["id"], lines

        jobs = [submit(http, "busy") for _ in range(QUEUE_LIMIT)]
        refused = http.post(EDITS_PATH, json=body, headers=headers(client="made-up"))
        assert refused.status_code == 429
        assert "wait for one to finish" in refused.json()["error"]
        jobs.append(submit(other, "busy"))  # the limit is per address, whatever the id
        for job, lines in jobs:
            cancelled = http.post(f"{EDITS_PATH}/{job}/cancel", headers=headers())
            assert cancelled.status_code == 200
            kinds = [json.loads(text)["type"] for text in lines if text]
            assert kinds[-1] == "cancelled" and "finished" not in kinds
        gone = http.post(f"{EDITS_PATH}/{jobs[0][0]}/cancel", headers=headers())
        assert gone.status_code == 404
    again = RemoteEditor(address, client_id="busy").edit(move(steps=2))
    assert again.image.size == (WIDTH, HEIGHT)


def test_uploads_and_images_past_the_limits_get_413(address):
    padded = {"task": "move", "prompt": "x" * (MAX_UPLOAD_MB * 1024 * 1024 + 1)}
    response = httpx.post(
        address.url + EDITS_PATH, json=padded, headers=headers(), timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == 413
    assert "MiB" in response.json()["error"]
    image, mask = square_scene(400, 300)
    big = MoveEdit(image=image, mask=mask, offset=(10, 0))
    with pytest.raises(InvalidInput, match="megapixels"):
        RemoteEditor(address).edit(big)


def test_bad_input_gets_the_cli_sentence(address):
    payload = encode_request(move())
    empty = np.zeros((HEIGHT, WIDTH), bool)
    buffer = io.BytesIO()
    Image.fromarray(empty).save(buffer, format="PNG")
    payload["images"]["mask"]["png"] = base64.b64encode(buffer.getvalue()).decode()
    response = httpx.post(
        address.url + EDITS_PATH, json=payload, headers=headers(), timeout=HTTP_TIMEOUT_S
    )
    image, _ = square_scene(WIDTH, HEIGHT)
    with pytest.raises(InvalidInput) as local:
        MoveEdit(image=image, mask=empty, offset=(14, 3)).validate()
    assert response.status_code == 422
    assert response.json()["error"] == str(local.value)
    garbage = httpx.post(
        address.url + EDITS_PATH, content=b"{not json", headers=headers(), timeout=HTTP_TIMEOUT_S
    )
    assert garbage.status_code == 400 and garbage.json()["error"] == "The request body is not JSON."


def test_two_concurrent_clients_both_finish(address):
    results: dict[int, object] = {}

    def run(run_id: int) -> None:
        results[run_id] = RemoteEditor(address).edit(move(200 + run_id, steps=6))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == [0, 1]
    assert all(r.image.size == (WIDTH, HEIGHT) for r in results.values())


def test_cli_edit_with_server(address, tmp_path, monkeypatch, capsys):
    args = cli_move(tmp_path, WIDTH, HEIGHT)
    args += ["--offset", "-10,2", "--steps", "3", "--server", address.url, "--json"]
    monkeypatch.delenv("DIFFEDITOR_TOKEN", raising=False)
    assert main([*args, "--out", str(tmp_path / "a.png")]) == 2
    assert "DIFFEDITOR_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("DIFFEDITOR_TOKEN", TOKEN)
    assert main([*args, "--out", str(tmp_path / "b.png")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["device"] == "cpu" and summary["steps"] == 3
    assert Image.open(tmp_path / "b.png").size == (WIDTH, HEIGHT)


def test_the_app_worker_runs_jobs_on_the_server(address, qtbot, tiny_model_dir):
    from diffeditor_app.runtime.worker import WorkerClient

    client = WorkerClient()
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    previews, progress = [], []
    client.preview.connect(lambda job, rgb: previews.append(rgb.shape))
    client.progress.connect(lambda job, step, total, left: progress.append((step, total)))
    try:
        with qtbot.waitSignal(client.finished, timeout=120_000) as done:
            client.submit(move(steps=4), spec, address)
        assert done.args[1].image.size == (WIDTH, HEIGHT)
        assert progress[-1] == (4, 4) and previews  # the last step's preview always comes
        with qtbot.waitSignal(client.cancelled, timeout=120_000):
            client.submit(move(steps=300), spec, address)
            qtbot.waitUntil(lambda: len(progress) > 5, timeout=60_000)
            client.cancel()
    finally:
        client.shutdown()


def test_killing_the_replica_mid_edit_fails_clearly_and_the_next_edit_succeeds(address, server):
    editor = RemoteEditor(address)
    killed: list[int] = []

    def kill_on_first_step(info) -> None:
        pid = editor.replica_pid
        if killed or pid is None:
            return
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert b"ServeReplica" in cmdline and pid not in (os.getpid(), server.process.pid)
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    with pytest.raises(ServerUnavailable, match="stopped during the edit"):
        editor.edit(move(300, steps=200), on_step=kill_on_first_step)
    assert killed
    after = editor.edit(move(300, steps=3))  # waits while Ray restarts the replica
    assert after.image.size == (WIDTH, HEIGHT)
    assert editor.replica_pid != killed[0]
