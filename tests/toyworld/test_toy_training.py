"""bench/toyworld/train.py on a tiny budget: it exports a loadable model, and a run cut into
pieces ends where the uninterrupted run ends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import load_file
from train import PROFILE, UNET_CONFIG, Denoiser, Plan, build_pool, gradient_l1, train_vae
from train import main as train_main
from transformers import CLIPTokenizer

from diffeditor_app.engine.models.loading import load_model
from diffeditor_app.engine.models.model import ModelSpec

POOL = ["--pool", "24", "--threads", "1"]


def run(work, out, vae: int, unet: int) -> None:
    argv = ["--work", str(work), "--out", str(out), *POOL]
    assert train_main([*argv, "--vae-steps", str(vae), "--unet-steps", str(unet)]) == 0


def states(work) -> tuple[dict, dict]:
    vae = torch.load(work / "vae.ckpt.pt", weights_only=False)["model"]
    unet = torch.load(work / "unet.ckpt.pt", weights_only=False)["ema"]
    return vae, unet


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_train_exports_a_model_the_engine_loads(tmp_path):
    run(tmp_path / "work", tmp_path / "toy", vae=2, unet=2)
    model = load_model(ModelSpec(str(tmp_path / "toy"), device="cpu"))
    assert model.profile.feature_blocks == (2,)
    assert len(model.tokenizer("a red circle on a plain beige background").input_ids) == 10
    assert model.vae.config.scaling_factor > 0
    log = (tmp_path / "work" / "unet.loss.csv").read_text().splitlines()
    assert log[0] == "step,loss" and len(log) == 3


def test_resumed_runs_end_where_the_straight_run_ends(tmp_path):
    run(tmp_path / "straight", tmp_path / "a", vae=4, unet=4)
    run(tmp_path / "unet-cut", tmp_path / "b", vae=4, unet=2)
    run(tmp_path / "unet-cut", tmp_path / "b", vae=4, unet=4)
    straight, cut = states(tmp_path / "straight"), states(tmp_path / "unet-cut")
    assert same(straight[0], cut[0]) and same(straight[1], cut[1])
    assert len((tmp_path / "unet-cut" / "unet.loss.csv").read_text().splitlines()) == 5
    run(tmp_path / "vae-cut", tmp_path / "c", vae=2, unet=1)
    run(tmp_path / "vae-cut", tmp_path / "c", vae=4, unet=1)
    assert same(states(tmp_path / "vae-cut")[0], straight[0])  # the VAE resumes exactly


def test_every_attention_head_has_32_channels():
    unet = UNet2DConditionModel(**UNET_CONFIG)
    for name, module in unet.named_modules():
        if name.endswith(("attn1", "attn2")):
            assert module.to_q.out_features // module.heads >= 32, name


def test_a_warm_start_begins_from_the_model_folder(tmp_path):
    run(tmp_path / "first", tmp_path / "first-model", vae=2, unet=2)
    plan = Plan(vae_steps=1, vae_batch=2, init=str(tmp_path / "first-model"))
    images = np.zeros((2, 64, 64, 3), np.uint8)
    (tmp_path / "second").mkdir()
    train_vae(tmp_path / "second", plan, images)
    first_vae = torch.load(tmp_path / "first" / "vae.ckpt.pt", weights_only=False)["model"]
    second_vae = torch.load(tmp_path / "second" / "vae.ckpt.pt", weights_only=False)["model"]
    step = max(float((second_vae[k] - first_vae[k]).abs().max()) for k in first_vae)
    assert step < 0.05  # one small step away from the first model, not a fresh start
    tokenizer = CLIPTokenizer.from_pretrained(tmp_path / "first-model" / "tokenizer")
    model = Denoiser(vocab_size=len(tokenizer))
    model.load_pretrained(tmp_path / "first-model")
    exported = tmp_path / "first-model" / "unet" / "diffusion_pytorch_model.safetensors"
    assert same(load_file(exported), model.unet.state_dict())


def test_the_edge_loss_sees_only_blurred_or_moved_edges():
    flat = torch.zeros(1, 3, 8, 8)
    edge = flat.clone()
    edge[..., 4:] = 1.0
    assert gradient_l1(flat, flat) == 0 and gradient_l1(edge, edge) == 0
    assert gradient_l1(flat, edge) > 0 and gradient_l1(edge + 0.5, edge) == 0


def test_a_patterned_plan_trains_on_striped_objects(tmp_path):
    images, captions = build_pool(tmp_path, Plan(pool=24, patterned=True))
    assert any("striped" in caption.split(" on ")[0] for caption in captions)
    (tmp_path / "flat").mkdir()
    flat_images, flat_captions = build_pool(tmp_path / "flat", Plan(pool=24))
    assert not any("striped" in caption.split(" on ")[0] for caption in flat_captions)
    assert not np.array_equal(images, flat_images)


def test_the_shipped_profile_is_the_one_training_exports():
    shipped = Path(__file__).resolve().parents[2] / "models" / "toy" / "diffeditor.json"
    assert json.loads(shipped.read_text()) == PROFILE
