"""The shipped toy model (models/toy, trained by bench/toyworld/train.py) loads offline like
any SD1.5 folder and edits."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from diffeditor_app.cli import main
from diffeditor_app.engine.imaging.compose import box_sum, feather_width
from diffeditor_app.engine.models.loading import MODELS_DIR, load_model
from diffeditor_app.engine.models.model import ModelSpec

TOY = MODELS_DIR / "toy"
SAMPLES = MODELS_DIR.parent / "resources" / "samples"
SHIPPED_LIMIT_MB = 40  # issue 6


def test_the_toy_model_is_small_and_in_diffusers_layout():
    size = sum(f.stat().st_size for f in TOY.rglob("*") if f.is_file())
    assert size < SHIPPED_LIMIT_MB * 2**20
    for part in ("unet", "vae", "text_encoder", "image_encoder"):
        assert list((TOY / part).glob("*.safetensors")), part
    assert (TOY / "image_prompt" / "ip_adapter.safetensors").is_file()
    unet = json.loads((TOY / "unet" / "config.json").read_text())
    assert unet["down_block_types"] == ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"]
    assert unet["up_block_types"] == ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3


def test_the_toy_model_loads_offline_with_its_profile(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_model(ModelSpec("toy", device="cpu"))
    assert model.profile.feature_blocks == (2,)
    assert model.profile.default_resolution == 64
    assert model.image_prompt is not None
    caption = (SAMPLES / "toy_scene.txt").read_text().strip()
    tokens = model.tokenizer(caption).input_ids
    assert len(tokens) == len(caption.split()) + 2  # word-level: one token per word
    words = tokens[1:-1]  # CLIP's unknown token is its end-of-text token
    assert model.tokenizer.unk_token_id not in words


def test_a_three_step_move_on_the_toy_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "moved.png"
    argv = ["edit", "move", "--model", "toy", "--steps", "3", "--offset", "26,-4"]
    argv += ["--image", str(SAMPLES / "toy_scene.png"), "--out", str(out)]
    argv += ["--mask", str(SAMPLES / "toy_circle_mask.png")]
    argv += ["--prompt", (SAMPLES / "toy_scene.txt").read_text().strip()]
    assert main(argv) == 0
    before = np.asarray(Image.open(SAMPLES / "toy_scene.png").convert("RGB"))
    after = np.asarray(Image.open(out).convert("RGB"))
    assert after.shape == before.shape == (64, 64, 3)
    changed = np.abs(after.astype(int) - before.astype(int)).max(axis=2) > 0
    assert changed.any()
    mask = np.asarray(Image.open(SAMPLES / "toy_circle_mask.png")) > 0
    placed = np.roll(mask, (-4, 26), axis=(0, 1))  # the circle is clear of the frame's edges
    reach = 2 * feather_width(64, 64)  # dilated, then feathered over as much again
    near = box_sum(mask | placed, reach) > 0
    assert not changed[~near].any()  # outside the feathered edit region: the input's pixels
