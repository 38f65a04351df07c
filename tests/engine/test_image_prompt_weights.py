"""Image-prompt weights: the public key layout (ALGORITHM.md §5.2, §5.3) loads strictly into the
full-size modules, mismatches and unsafe or unreadable files are one sentence, the offline
rules hold, and the decoupled cross-attention is exactly plain attention when it is off."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from diffeditor_app.engine import ModelSpec, ModelUnavailable, load_model
from diffeditor_app.engine.method.image_prompt import (
    ImagePromptAttnProcessor,
    ImagePromptController,
    Resampler,
    ResamplerConfig,
    clip_pixels,
    install_image_prompt,
)
from diffeditor_app.engine.models.image_prompt_weights import (
    IMAGE_PROMPT_HUB,
    build_image_prompt,
    load_vision,
    read_weights,
)
from diffeditor_app.engine.models.loading import MODELS_DIR
from diffeditor_app.engine.models.testing import build_random_model

LAYOUT_FILE = MODELS_DIR / "image_prompt" / "ip_sd15_64_layout.json"
VIT_H_FOLDER = MODELS_DIR / "sd15" / "image_encoder"
PARTS = ("image_proj", "ip_adapter")


def public_layout() -> dict[str, dict[str, list[int]]]:
    data = json.loads(LAYOUT_FILE.read_text())
    return {part: data[part] for part in PARTS}


def meta_state(layout: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, torch.Tensor]]:
    """A checkpoint of the given layout that allocates nothing."""
    return {
        part: {key: torch.empty(shape, device="meta") for key, shape in keys.items()}
        for part, keys in layout.items()
    }


def shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {key: list(t.shape) for key, t in module.state_dict().items()}


def one_sentence(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message.endswith("."), message
    return message


@pytest.fixture(scope="module")
def sd15_meta():
    """The full-size SD1.5 modules and the ViT-H/14 tower, on `meta`: shapes, no memory."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    model = build_random_model("sd15", device="meta")
    with torch.device("meta"):
        vision = CLIPVisionModelWithProjection(CLIPVisionConfig.from_pretrained(VIT_H_FOLDER))
    return model, vision


@pytest.fixture(scope="module")
def own_model(tiny_model_dir):
    """A tiny model of this module's own: tests here set its controller."""
    return load_model(ModelSpec(str(tiny_model_dir), device="cpu"))


# --- the public layout --------------------------------------------------------------------


def test_layout_file_is_the_spec():
    layout = public_layout()
    proj, adapter = layout["image_proj"], layout["ip_adapter"]
    assert len(proj) == 7 + 4 * 11 and len(adapter) == 32
    assert proj["latents"] == [1, 64, 768] and proj["proj_in.weight"] == [768, 1280]
    assert proj["layers.3.0.to_kv.weight"] == [1536, 768]
    assert proj["layers.3.1.3.weight"] == [768, 3072]
    assert adapter["1.to_k_ip.weight"] == [320, 768] and adapter["31.to_v_ip.weight"] == [1280, 768]
    assert {int(key.split(".")[0]) for key in adapter} == set(range(1, 32, 2))


def test_vit_h_config_builds_on_meta(sd15_meta):
    _, vision = sd15_meta
    assert vision.config.model_type == "clip_vision_model"
    assert (vision.config.hidden_size, vision.config.num_hidden_layers) == (1280, 32)
    assert vision.config.image_size == 224 and vision.config.projection_dim == 1024
    count = sum(p.numel() for p in vision.parameters())
    assert 625e6 < count < 640e6  # 632,076,800: the ViT-H/14 tower and its projection


def test_our_modules_have_exactly_the_public_layout(sd15_meta):
    model, _ = sd15_meta
    layout = public_layout()
    with torch.device("meta"):
        resampler = Resampler(ResamplerConfig())
    assert shapes(resampler) == layout["image_proj"]
    names = list(model.unet.attn_processors)
    assert len(names) == 32
    assert all(name.endswith("attn2.processor") == (k % 2 == 1) for k, name in enumerate(names))
    adapter = install_image_prompt(model.unet, ImagePromptController())
    assert shapes(adapter) == layout["ip_adapter"]


def test_public_layout_loads_strictly_into_the_full_size_modules(sd15_meta):
    model, vision = sd15_meta
    prompt = build_image_prompt(model, vision, meta_state(public_layout()))
    assert prompt.encoder.resampler.config == ResamplerConfig()
    assert prompt.encoder.image_size == 224
    cross = [p for p in prompt.adapter if isinstance(p, ImagePromptAttnProcessor)]
    assert len(cross) == 16 and all(p.controller is prompt.controller for p in cross)
    installed = [p for n, p in model.unet.attn_processors.items() if n.endswith("attn2.processor")]
    assert all(a is b for a, b in zip(installed, cross, strict=True))


@pytest.mark.parametrize(
    ("part", "change", "key"),
    [
        ("image_proj", ("shape", [768, 1024]), "proj_in.weight"),
        ("image_proj", ("missing", None), "layers.3.1.3.weight"),
        ("image_proj", ("missing", None), "proj_out.weight"),
        ("image_proj", ("extra", [768]), "extra.weight"),
        ("ip_adapter", ("shape", [640, 768]), "1.to_k_ip.weight"),
        ("ip_adapter", ("missing", None), "31.to_v_ip.weight"),
        ("ip_adapter", ("extra", [1280, 768]), "33.to_k_ip.weight"),
    ],
)
def test_a_layout_mismatch_is_one_sentence_naming_the_key(sd15_meta, part, change, key):
    model, vision = sd15_meta
    layout = public_layout()
    kind, shape = change
    if kind == "missing":
        del layout[part][key]
    else:
        layout[part][key] = shape
    before = dict(model.unet.attn_processors)
    with pytest.raises(ModelUnavailable) as info:
        build_image_prompt(model, vision, meta_state(layout))
    message = one_sentence(info)
    assert key in message and f"({part})" in message
    after = model.unet.attn_processors
    assert all(after[name] is processor for name, processor in before.items())


# --- reading and converting files -----------------------------------------------------------


class RunsCode:
    """Unpickling this would run a shell command that leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class Custom:
    """A class of its own: a plain-tensor loader must not instantiate it."""


def small_state(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "image_proj": {
            "latents": torch.randn(1, 4, 8, generator=generator),
            "proj_in.weight": torch.randn(8, 6, generator=generator),
        },
        "ip_adapter": {"1.to_k_ip.weight": torch.randn(16, 8, generator=generator)},
    }


def assert_same(a: dict, b: dict) -> None:
    assert set(a) == set(b) == set(PARTS)
    for part in PARTS:
        assert set(a[part]) == set(b[part])
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part])


def test_a_nested_pickle_loads(tmp_path):
    path = tmp_path / "ip.bin"
    torch.save(small_state(), path)
    assert_same(read_weights(path), small_state())


@pytest.mark.parametrize("how", ["torch.save", "pickle protocol 2", "pickle protocol 4"])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, how):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.bin"
    payload = {"image_proj": {"latents": RunsCode(marker)}, "ip_adapter": {}}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=int(how[-1])))
    with pytest.raises(ModelUnavailable, match="refused") as info:
        read_weights(path)
    assert str(path) in one_sentence(info)
    assert not marker.exists()
    if how == "torch.save":  # the control: an unrestricted load does run the payload
        torch.load(path, weights_only=False)
    else:
        pickle.loads(path.read_bytes())
    assert marker.exists()


def test_a_pickle_of_a_custom_class_is_refused(tmp_path):
    path = tmp_path / "custom.pt"
    torch.save({"image_proj": {"latents": Custom()}, "ip_adapter": {}}, path)
    with pytest.raises(ModelUnavailable, match="refused") as info:
        read_weights(path)
    one_sentence(info)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a pickle at all", "refused: it is not a plain-tensor checkpoint"),
        (b"PK\x03\x04 truncated zip", "not a readable weights file"),
        ({"state_dict": {"w": torch.zeros(1)}}, "not an image-prompt checkpoint"),
        ({"image_proj": {"w": 1.0}, "ip_adapter": {}}, "image_proj is not a dict"),
        ([torch.zeros(1)], "not an image-prompt checkpoint"),
    ],
)
def test_other_pickles_and_garbage_are_one_sentence(tmp_path, content, expected):
    path = tmp_path / "weights.bin"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ModelUnavailable, match=expected) as info:
        read_weights(path)
    one_sentence(info)


def test_safetensors_with_flattened_keys_round_trip(tmp_path):
    from safetensors.torch import save_file

    state = small_state(1)
    flat = {f"{part}.{key}": t for part in PARTS for key, t in state[part].items()}
    path = tmp_path / "ip_adapter.safetensors"
    save_file(flat, str(path))
    assert_same(read_weights(path), state)
    save_file({"unet.x": torch.zeros(1)}, str(path))
    with pytest.raises(ModelUnavailable, match=r"unet\.x") as info:
        read_weights(path)
    one_sentence(info)
    path.write_bytes(b"garbage")
    with pytest.raises(ModelUnavailable, match="not a readable safetensors") as info:
        read_weights(path)
    one_sentence(info)


def test_other_suffixes_and_missing_files_are_refused(tmp_path):
    other = tmp_path / "ip.npz"
    torch.save(small_state(), other)
    with pytest.raises(ModelUnavailable, match="neither") as info:
        read_weights(other)
    one_sentence(info)
    with pytest.raises(ModelUnavailable, match="do not exist") as info:
        read_weights(tmp_path / "nowhere.bin")
    one_sentence(info)


def test_cli_convert_writes_identical_tensors(tmp_path, capsys):
    from diffeditor_app.cli import main

    source, target = tmp_path / "ip_sd15_64.bin", tmp_path / "out" / "ip.safetensors"
    torch.save(small_state(2), source)
    assert main(["models", "convert", str(source), str(target)]) == 0
    assert "3 tensors" in capsys.readouterr().out
    assert_same(read_weights(target), small_state(2))


def test_cli_convert_of_a_bad_pickle_fails_with_one_line(tmp_path, capsys):
    from diffeditor_app.cli import main

    marker = tmp_path / "ran"
    source = tmp_path / "evil.bin"
    torch.save(RunsCode(marker), source)
    assert main(["models", "convert", str(source), str(tmp_path / "out.safetensors")]) != 0
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and str(source) in error and "refused" in error
    assert not marker.exists() and not (tmp_path / "out.safetensors").exists()


# --- the CLIP vision folder and the offline rules -------------------------------------------


@pytest.mark.parametrize("wrong", ["unet", "text_encoder"])
def test_a_folder_that_is_not_a_clip_vision_model_is_refused(tiny_model_dir, wrong):
    folder = tiny_model_dir / wrong
    with pytest.raises(ModelUnavailable, match="not a CLIP vision model") as info:
        load_vision(folder, torch.float32, torch.device("cpu"))
    assert str(folder) in one_sentence(info)
    with pytest.raises(ModelUnavailable) as info:
        load_model(ModelSpec(str(tiny_model_dir), device="cpu", image_encoder=str(folder)))
    assert str(folder) in one_sentence(info)


@pytest.fixture()
def empty_offline_cache(monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


@pytest.fixture()
def bare_model_dir(tiny_model_dir, tmp_path):
    """The tiny model without image-prompt weights and without its CLIP tower."""
    folder = tmp_path / "bare"
    shutil.copytree(tiny_model_dir, folder)
    shutil.rmtree(folder / "image_prompt")
    shutil.rmtree(folder / "image_encoder")
    return folder


def test_a_model_without_image_prompt_files_loads_with_one_note(
    empty_offline_cache, bare_model_dir
):
    model = load_model(ModelSpec(str(bare_model_dir), device="cpu"))
    assert model.image_prompt is None
    assert len(model.notes) == 1 and "image prompt off" in model.notes[0]


def test_weights_without_an_encoder_load_with_one_note_unless_asked_for(
    empty_offline_cache, tiny_model_dir, bare_model_dir
):
    shutil.copytree(tiny_model_dir / "image_prompt", bare_model_dir / "image_prompt")
    model = load_model(ModelSpec(str(bare_model_dir), device="cpu"))
    assert model.image_prompt is None
    assert len(model.notes) == 1 and "image prompt off" in model.notes[0]
    assert "\n" not in model.notes[0]
    weights = str(bare_model_dir / "image_prompt")
    with pytest.raises(ModelUnavailable, match="h94/IP-Adapter") as info:
        load_model(ModelSpec(str(bare_model_dir), device="cpu", image_prompt=weights))
    one_sentence(info)


def test_an_explicit_hub_spec_offline_fails_fast_naming_the_repo(
    empty_offline_cache, bare_model_dir, connections
):
    with pytest.raises(ModelUnavailable) as info:
        load_model(ModelSpec(str(bare_model_dir), device="cpu", image_prompt=IMAGE_PROMPT_HUB))
    assert connections == []  # fast: the cache was asked, the hub never
    message = one_sentence(info)
    assert IMAGE_PROMPT_HUB in message and "offline" in message


def test_image_prompt_none_loads_without_it_and_without_a_note(empty_offline_cache, bare_model_dir):
    model = load_model(ModelSpec(str(bare_model_dir), device="cpu", image_prompt="none"))
    assert model.image_prompt is None and model.notes == []


# --- the tiny model's encoder and the decoupled cross-attention ------------------------------


def test_tiny_encoder_tokens_and_unconditional_tokens(own_model):
    encoder = own_model.image_prompt.encoder
    rgb = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    with torch.no_grad():
        tokens, uncond = encoder.encode(rgb)
        zeros = encoder.tokens(torch.zeros(1, 3, encoder.image_size, encoder.image_size))
        black = encoder.tokens(clip_pixels(np.zeros((40, 56, 3), np.uint8), encoder.image_size))
        grey = encoder.encode(np.full((40, 56), 128, np.uint8))[0]
    assert tokens.shape == uncond.shape == (1, 8, 32)
    assert torch.allclose(uncond, zeros, atol=1e-6)
    assert not torch.allclose(uncond, black, atol=1e-4)
    assert not torch.allclose(tokens, uncond, atol=1e-4)
    assert grey.shape == (1, 8, 32)


def test_decoupled_attention_is_plain_attention_when_off(own_model, tiny_model_dir):
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import AttnProcessor2_0

    plain = UNet2DConditionModel.from_pretrained(tiny_model_dir, subfolder="unet").eval()
    plain.set_attn_processor(AttnProcessor2_0())
    unet, controller = own_model.unet, own_model.image_prompt.controller
    cross = [p for n, p in unet.attn_processors.items() if n.endswith("attn2.processor")]
    assert len(cross) == 10 and all(isinstance(p, ImagePromptAttnProcessor) for p in cross)
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(2, 4, 16, 16, generator=generator)
    text = torch.randn(2, 7, 32, generator=generator)
    tokens = torch.randn(2, 8, 32, generator=generator)
    with torch.no_grad():
        reference = plain(z, 500, encoder_hidden_states=text).sample
        assert torch.equal(unet(z, 500, encoder_hidden_states=text).sample, reference)
        with controller.active(tokens, 0.0):
            assert torch.equal(unet(z, 500, encoder_hidden_states=text).sample, reference)
        with controller.active(tokens, 0.5):
            on = unet(z, 500, encoder_hidden_states=text).sample
        assert controller.tokens is None and controller.scale == 0.0
        assert torch.equal(unet(z, 500, encoder_hidden_states=text).sample, reference)
    assert on.shape == reference.shape and not torch.allclose(on, reference, atol=1e-6)
