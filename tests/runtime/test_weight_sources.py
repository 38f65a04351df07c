"""Finding weights in the settings and the cache, offline instructions, and downloads
(with the hub replaced by a stand-in: no network here)."""

from __future__ import annotations

import pytest

from diffeditor_app.runtime import weights
from diffeditor_app.runtime.settings import SettingsStore
from diffeditor_app.runtime.weights import REQUIRED, Download, offline_instructions, status


@pytest.fixture
def empty_cache(monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def fake_cached_file(cache, repo: str, filename: str) -> None:
    """The Hugging Face cache layout: models--ORG--NAME/{refs/main, snapshots/HASH/...}."""
    root = cache / f"models--{repo.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    target = root / "snapshots" / commit / filename
    target.parent.mkdir(parents=True)
    target.write_bytes(b"weights")


def test_status_local_cached_and_missing(empty_cache, tmp_path, tiny_model_dir):
    settings = SettingsStore(tmp_path / "settings.json")
    assert [s.state for s in status(settings)] == ["missing"] * 3
    bare = tmp_path / "bare-model"  # a model folder without its own image prompt
    bare.mkdir()
    settings.set("model_source", str(bare))
    fake_cached_file(empty_cache, weights.IMAGE_PROMPT_HUB, weights.IMAGE_PROMPT_HUB_FILE)
    states = [s.state for s in status(settings)]
    assert states == ["local", "missing", "cached"]
    assert status(settings)[2].path.name != ""
    settings.set("model_source", str(tiny_model_dir))  # has image_encoder/, image_prompt/
    found = status(settings)
    assert [s.state for s in found] == ["local", "model", "model"]
    assert found[1].path == tiny_model_dir / "image_encoder"


def test_offline_instructions_name_repos_patterns_and_the_cache(empty_cache):
    text = offline_instructions(list(REQUIRED))
    for source in REQUIRED:
        assert source.repo in text
    assert "models/image_encoder/*" in text and str(empty_cache) in text
    assert "Everything" in offline_instructions([])


def run_download(qtbot, monkeypatch, behaviour):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", behaviour)
    job = Download(REQUIRED[2])
    seen = []
    for name in ("progress", "finished", "failed", "cancelled"):
        getattr(job, name).connect(lambda *args, n=name: seen.append((n, args)))
    job.start()
    job.wait(10)
    qtbot.waitUntil(lambda: any(n != "progress" for n, _ in seen), timeout=5000)
    return job, seen


def test_download_reports_progress_and_finishes(qtbot, monkeypatch, tmp_path):
    def fake(repo_id, tqdm_class=None, **kwargs):
        bar = tqdm_class(total=3)
        for _ in range(3):
            bar.update(1)
        return str(tmp_path)

    _, seen = run_download(qtbot, monkeypatch, fake)
    assert [args for name, args in seen if name == "progress"] == [(1, 3), (2, 3), (3, 3)]
    assert seen[-1] == ("finished", (str(tmp_path),))


def test_download_can_be_cancelled(qtbot, monkeypatch, tmp_path):
    holder = {}

    def fake(repo_id, tqdm_class=None, **kwargs):
        bar = tqdm_class(total=5)
        bar.update(1)
        holder["job"].cancel()
        bar.update(1)  # the hook raises here, as it would inside the real download
        return str(tmp_path)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    job = Download(REQUIRED[0])
    holder["job"] = job
    seen = []
    job.cancelled.connect(lambda: seen.append("cancelled"))
    job.finished.connect(lambda path: seen.append("finished"))
    job.start()
    job.wait(10)
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen == ["cancelled"]


def test_download_failure_is_a_sentence(qtbot, monkeypatch):
    def unreachable(repo_id, **kwargs):
        raise ConnectionError("no route to host")

    _, seen = run_download(qtbot, monkeypatch, unreachable)
    name, (message,) = seen[-1]
    assert name == "failed" and "Could not download" in message and "\n" not in message


def test_the_cache_folder_preference_moves_the_hub_cache(monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "default"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    weights.apply_cache_folder(None)
    assert weights.hub_cache() == tmp_path / "default"
    weights.apply_cache_folder(str(tmp_path / "mine"))
    assert weights.hub_cache() == tmp_path / "mine"
