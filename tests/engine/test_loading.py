"""Loading: folders, files, hub ids, profiles; offline failures are one fast sentence."""

from __future__ import annotations

import json

import pytest
import torch

from diffeditor_app.engine import ModelSpec, ModelUnavailable, load_model
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.method.attention import BankController, install_bank
from diffeditor_app.engine.models.loading import (
    check_sd1_folder,
    declared_profile,
    resolve_device,
    resolve_dtype,
)
from diffeditor_app.engine.models.model import SD15_HUB_ID, ModelProfile
from diffeditor_app.engine.models.testing import build_random_model
from diffeditor_app.engine.tasks.registry import Task


def test_tiny_model_loads_with_its_profile_and_sdpa(tiny_model):
    from diffusers.models.attention_processor import AttnProcessor2_0

    assert tiny_model.profile.default_resolution == 64
    assert tiny_model.profile.feature_blocks == (1, 2)
    assert tiny_model.dtype == torch.float32 and tiny_model.device.type == "cpu"
    assert tiny_model.latent_factor == 4
    from diffeditor_app.engine.method.image_prompt import ImagePromptAttnProcessor

    processors = tiny_model.unet.attn_processors
    cross = [p for name, p in processors.items() if name.endswith("attn2.processor")]
    assert len(cross) == 10 and all(isinstance(p, ImagePromptAttnProcessor) for p in cross)
    encoder_self = [p for name, p in processors.items() if name.startswith("down_blocks")]
    encoder_self = [p for p in encoder_self if not isinstance(p, ImagePromptAttnProcessor)]
    assert encoder_self and all(isinstance(p, AttnProcessor2_0) for p in encoder_self)
    assert tiny_model.image_prompt is not None and tiny_model.notes == []
    assert not any(p.requires_grad for p in tiny_model.unet.parameters())


def test_empty_folder_is_not_a_model(tmp_path):
    with pytest.raises(ModelUnavailable, match="missing unet, vae"):
        load_model(ModelSpec(str(tmp_path), device="cpu"))


def test_inpainting_unet_is_rejected(tiny_model_dir, tmp_path):
    import shutil

    copy = tmp_path / "inpaint"
    shutil.copytree(tiny_model_dir, copy)
    config_path = copy / "unet" / "config.json"
    config = json.loads(config_path.read_text())
    config["in_channels"] = 9
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelUnavailable, match="4 latent channels"):
        check_sd1_folder(copy)


def test_configs_without_weights_fail_with_a_sentence():
    with pytest.raises(ModelUnavailable, match="could not be loaded") as info:
        load_model(ModelSpec("sd15", device="cpu"))
    assert "\n" not in str(info.value)


def test_hub_id_offline_fails_fast_naming_the_repo(monkeypatch, tmp_path, connections):
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelUnavailable) as info:
        load_model(ModelSpec(SD15_HUB_ID, device="cpu", allow_download=True))
    assert connections == []  # fast: the cache was asked, the hub never
    message = str(info.value)
    assert SD15_HUB_ID in message and "offline" in message and "hf download" in message


def test_hub_download_failure_is_a_sentence(monkeypatch, tmp_path):
    import huggingface_hub
    import huggingface_hub.constants as constants

    calls = []

    def unreachable(repo_id, **kwargs):
        calls.append(kwargs.get("local_files_only", False))
        if kwargs.get("local_files_only"):
            from huggingface_hub.errors import LocalEntryNotFoundError

            raise LocalEntryNotFoundError("not cached")
        raise ConnectionError("no route to host")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    with pytest.raises(ModelUnavailable, match="Could not download 'someone/model'"):
        load_model(ModelSpec("someone/model", device="cpu", allow_download=True))
    assert calls == [True, False]  # the cache first, then the network


def test_single_file_without_cached_configs_says_what_to_fetch(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"\0" * 16)
    with pytest.raises(ModelUnavailable, match=SD15_HUB_ID):
        load_model(ModelSpec(str(checkpoint), device="cpu"))


def test_wrong_file_type_and_missing_path(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelUnavailable, match=r"not a \.safetensors or \.ckpt"):
        load_model(ModelSpec(str(text), device="cpu"))
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_model(ModelSpec(str(tmp_path / "nothing"), device="cpu"))
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_model(ModelSpec("./missing.safetensors", device="cpu"))


def test_profile_reads_and_rejects_unknown_keys(tmp_path):
    path = tmp_path / "diffeditor.json"
    path.write_text(json.dumps({"feature_blocks": [2, 3], "default_resolution": 64}))
    profile = ModelProfile.from_file(path)
    assert profile.feature_blocks == (2, 3) and profile.resolution_range == (384, 1024)
    path.write_text(json.dumps({"feature_block": [2]}))
    with pytest.raises(ModelUnavailable, match="feature_block"):
        ModelProfile.from_file(path)
    with pytest.raises(InvalidInput, match="between 384 and 1024"):
        ModelProfile().check_resolution(1100)
    path.write_text(json.dumps({"resolution_range": [32, 4096]}))  # past what the app takes
    with pytest.raises(ModelUnavailable, match=r"within 64\.\.2048"):
        ModelProfile.from_file(path)


def test_profile_task_overrides_apply():
    profile = ModelProfile(task_overrides={"move": {"w_edit": 7.0}})
    assert profile.task_settings(Task.MOVE).w_edit == 7.0


def test_declared_profile_is_the_one_the_engine_reads(tiny_model_dir, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert declared_profile(str(tiny_model_dir)).feature_blocks == (1, 2)
    toy = declared_profile("toy")  # shipped under models/: its tuned numbers
    assert toy.task_settings(Task.MOVE).guidance_strength == 4.0
    assert {toy.task_settings(task).cfg_scale for task in Task} == {2.0}
    for plain in (SD15_HUB_ID, str(tmp_path / "missing"), str(tmp_path)):
        assert declared_profile(plain) == ModelProfile()  # SD1.5's numbers
    # a hub repo in the cache: the profile it ships, read offline like its weights
    repo = tmp_path / "hub" / "models--someone--tuned"
    snapshot = repo / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    (snapshot / "diffeditor.json").write_text(json.dumps({"default_resolution": 512}))
    assert declared_profile("someone/tuned").default_resolution == 512


def test_device_and_dtype_resolution():
    device, notes = resolve_device("cpu")
    assert device.type == "cpu" and notes == []
    if not torch.cuda.is_available():
        assert resolve_device("auto")[1]  # a warning that the CPU is slow
        with pytest.raises(InvalidInput, match="no CUDA GPU"):
            resolve_device("cuda")
    assert resolve_dtype("auto", torch.device("cpu")) is torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) is torch.float16
    with pytest.raises(InvalidInput, match="fp16 needs a CUDA GPU"):
        resolve_dtype("fp16", torch.device("cpu"))


def test_sd15_architecture_builds_from_shipped_configs():
    model = build_random_model("sd15", device="meta")
    assert sum(p.numel() for p in model.unet.parameters()) == 859_520_964
    assert len(model.unet.attn_processors) == 32
    assert model.latent_factor == 8
    assert len(install_bank(model.unet, BankController())) == 9  # up_blocks[1..3] x 3
