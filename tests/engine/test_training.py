"""Image-prompt training (paper Eq. 6) on the tiny model: the loss falls, only the image-prompt
weights move, the output loads strictly, and a resumed run is the uninterrupted run."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from diffeditor_app.engine import EditCancelled, InvalidInput, ModelSpec, load_model
from diffeditor_app.engine.models.image_prompt_weights import (
    build_image_prompt,
    load_vision,
    locate_encoder,
    read_weights,
)
from diffeditor_app.engine.models.testing import HEAD_DAMPING
from diffeditor_app.engine.models.training import Trainer, TrainingConfig, train

COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 220), (230, 200, 20), (150, 40, 180)]
FAST_LR = 1e-3  # large enough that a few steps change the weights visibly
LOSS_LR = 1e-2  # large enough that 30 steps lower the loss well past its sampling noise
LOSS_STEPS = 30
EVAL_BATCHES = 4  # fixed (items, t, noise, dropout) batches the loss is compared on
MIN_LOSS_DROP = 0.03  # the drop seen is ~0.08 of a reducible ~0.1 above the noise floor 1.0


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    """Five 64 px scenes: a coloured square or disc on a tinted background; three captioned."""
    folder = tmp_path / "data"
    folder.mkdir()
    for i, colour in enumerate(COLOURS):
        background = tuple(255 - v // 2 for v in reversed(colour))
        image = Image.new("RGB", (64, 64), background)
        draw = ImageDraw.Draw(image)
        box = (10 + 4 * i, 12, 40 + 4 * i, 42)
        (draw.ellipse if i % 2 else draw.rectangle)(box, fill=colour)
        image.save(folder / f"scene{i}.png")
        if i < 3:
            (folder / f"scene{i}.txt").write_text(f"a shape number {i}\n")
    return folder


@pytest.fixture(scope="module")
def loud_model_dir(tiny_model_dir: Path, tmp_path_factory) -> Path:
    """The tiny model with its output head undamped. HEAD_DAMPING caps |eps_pred| near 0.05,
    so almost none of the ~1.0 loss can be reduced by any weights; undamped, about 0.1 of it
    can, which makes "the loss falls" a check with a margin."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("loud") / "model"
    shutil.copytree(tiny_model_dir, folder)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    state = load_file(weights)
    for key in ("conv_out.weight", "conv_out.bias"):
        state[key] = state[key] / HEAD_DAMPING
    save_file(state, weights)
    return folder


def config(data: Path, model: Path, out: Path, **overrides) -> TrainingConfig:
    fields = {"steps": 6, "batch": 2, "lr": FAST_LR, "device": "cpu", "progress": False}
    return TrainingConfig(data=data, model=str(model), out=out, **{**fields, **overrides})


def eval_losses(trainer: Trainer) -> float:
    batches = [trainer.draw_batch(torch.Generator().manual_seed(k)) for k in range(EVAL_BATCHES)]
    with torch.no_grad():
        return float(np.mean([trainer.loss(batch).item() for batch in batches]))


def test_loss_falls_on_fixed_batches(data_dir, loud_model_dir, tmp_path):
    out = tmp_path / "ip.safetensors"
    trainer = Trainer.create(
        config(data_dir, loud_model_dir, out, steps=LOSS_STEPS, batch=4, lr=LOSS_LR)
    )
    before = eval_losses(trainer)  # draws from its own generators: the run is unchanged
    report = trainer.run()
    after = eval_losses(trainer)
    first, last = np.mean(report.losses[:5]), np.mean(report.losses[-5:])
    print(f"fixed batches {before:.4f} -> {after:.4f}; run, first 5 {first:.4f} last 5 {last:.4f}")
    assert report.step == LOSS_STEPS and len(report.losses) == LOSS_STEPS
    assert after < before - MIN_LOSS_DROP


def test_only_the_image_prompt_weights_train(data_dir, tiny_model_dir, tmp_path):
    trainer = Trainer.create(config(data_dir, tiny_model_dir, tmp_path / "ip.safetensors", steps=3))
    model, prompt = trainer.model, trainer.prompt
    frozen = {
        "unet": model.unet,
        "vae": model.vae,
        "text_encoder": model.text_encoder,
        "vision": prompt.encoder.vision,
    }
    trained = {"resampler": prompt.encoder.resampler}

    def is_ip(key: str) -> bool:
        return ".to_k_ip." in key or ".to_v_ip." in key

    def snapshot() -> dict[str, dict[str, torch.Tensor]]:
        return {
            name: {k: v.clone() for k, v in module.state_dict().items()}
            for name, module in {**frozen, **trained}.items()
        }

    requires_grad = {
        f"{name}.{key}"
        for name, module in {**frozen, **trained}.items()
        for key, parameter in module.named_parameters()
        if parameter.requires_grad
    }
    expected = {f"resampler.{key}" for key, _ in prompt.encoder.resampler.named_parameters()}
    expected |= {f"unet.{key}" for key, _ in model.unet.named_parameters() if is_ip(key)}
    assert requires_grad == expected
    assert not model.unet.training and prompt.encoder.resampler.training

    start = snapshot()
    trainer.run()
    end = snapshot()
    for name in ("vae", "text_encoder", "vision"):
        assert all(torch.equal(start[name][k], end[name][k]) for k in start[name]), name
    unet_keys = start["unet"]
    assert all(torch.equal(unet_keys[k], end["unet"][k]) for k in unet_keys if not is_ip(k))
    ip_keys = [k for k in unet_keys if is_ip(k)]
    attn2 = [name for name, _ in model.unet.named_modules() if name.endswith(".attn2")]
    assert len(ip_keys) == 2 * len(attn2)  # to_k_ip and to_v_ip on every attn2
    assert all(not torch.equal(unet_keys[k], end["unet"][k]) for k in ip_keys)
    resampler = start["resampler"]
    assert all(not torch.equal(resampler[k], end["resampler"][k]) for k in resampler)


def test_output_loads_strictly_and_changes_the_tokens(data_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "trained" / "ip.safetensors"
    report = train(config(data_dir, tiny_model_dir, out, steps=4))
    assert report.step == 4 and np.isfinite(report.final_loss)
    assert out.is_file() and report.checkpoint.is_file() and report.loss_log.is_file()
    lines = report.loss_log.read_text().splitlines()
    assert lines[0] == "step,loss" and len(lines) == 5

    fresh = load_model(ModelSpec(str(tiny_model_dir), device="cpu", image_prompt="none"))
    vision = load_vision(locate_encoder(None, tiny_model_dir, False), fresh.dtype, fresh.device)
    trained = build_image_prompt(fresh, vision, read_weights(out))  # strict, or it raises
    initial = load_model(ModelSpec(str(tiny_model_dir), device="cpu")).image_prompt
    rgb = np.asarray(Image.open(data_dir / "scene0.png").convert("RGB"))
    with torch.no_grad():
        new_tokens, new_uncond = trained.encoder.encode(rgb)
        old_tokens, old_uncond = initial.encoder.encode(rgb)
    assert new_tokens.shape == old_tokens.shape
    assert (new_tokens - old_tokens).abs().max() > 1e-3
    assert (new_uncond - old_uncond).abs().max() > 1e-3

    via_spec = load_model(ModelSpec(str(tiny_model_dir), device="cpu", image_prompt=str(out)))
    with torch.no_grad():
        assert torch.equal(via_spec.image_prompt.encoder.encode(rgb)[0], new_tokens)


def test_resume_is_exact(data_dir, tiny_model_dir, tmp_path):
    straight = train(config(data_dir, tiny_model_dir, tmp_path / "a" / "ip.safetensors"))
    first = train(config(data_dir, tiny_model_dir, tmp_path / "b" / "ip.safetensors", steps=3))
    assert first.step == 3
    checkpoint = torch.load(first.checkpoint, map_location="cpu", weights_only=True)
    assert checkpoint["step"] == 3
    resumed = train(
        config(data_dir, tiny_model_dir, tmp_path / "b" / "ip.safetensors", resume=first.checkpoint)
    )

    def stop_at_two(step: int, loss: float) -> None:
        if step == 2:
            raise EditCancelled("stopped")

    cancelled_out = tmp_path / "c" / "ip.safetensors"
    with pytest.raises(EditCancelled):
        train(config(data_dir, tiny_model_dir, cancelled_out), on_step=stop_at_two)
    checkpoint_path = cancelled_out.with_suffix(".ckpt.pt")  # written when the callback raised
    after_cancel = train(config(data_dir, tiny_model_dir, cancelled_out, resume=checkpoint_path))

    a = read_weights(straight.out)
    for report in (resumed, after_cancel):
        assert report.step == 6 and report.losses == straight.losses and not report.notes
        assert report.loss_log.read_text() == straight.loss_log.read_text()
        b = read_weights(report.out)
        for part in a:
            assert a[part].keys() == b[part].keys()
            assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part


def test_fresh_weights_for_a_model_without_them(data_dir, tiny_model_dir, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(tiny_model_dir, bare, ignore=shutil.ignore_patterns("image_prompt"))
    out = tmp_path / "fresh.safetensors"
    report = train(config(data_dir, bare, out, steps=1, batch=1))
    assert any("training fresh ones" in note for note in report.notes)
    state = read_weights(out)
    assert state["image_proj"]["latents"].shape == (1, 64, 768)  # ResamplerConfig defaults
    fresh = load_model(ModelSpec(str(bare), device="cpu", image_prompt=str(out)))
    assert fresh.image_prompt is not None
    small = tmp_path / "small.safetensors"
    shape = {"resampler_width": 64, "resampler_depth": 1, "image_tokens": 8}
    train(config(data_dir, bare, small, steps=1, batch=1, **shape))
    state = read_weights(small)["image_proj"]
    assert state["latents"].shape == (1, 8, 64)
    assert not any(key.startswith("layers.1.") for key in state)  # one perceiver block
    assert load_model(ModelSpec(str(bare), device="cpu", image_prompt=str(small))).image_prompt


def test_dropped_captions_train_on_the_empty_prompt(data_dir, loud_model_dir, tmp_path):
    """A sample whose caption is dropped is trained exactly as an uncaptioned image would be."""
    from dataclasses import replace

    trainer = Trainer.create(config(data_dir, loud_model_dir, tmp_path / "ip.safetensors"))
    captioned = torch.tensor([0, 1])  # scene0 and scene1 have captions, scene3 and 4 none
    batch = replace(trainer.draw_batch(torch.Generator().manual_seed(0)), items=captioned)
    kept = replace(batch, untexted=torch.tensor([False, False]))
    dropped = replace(batch, untexted=torch.tensor([True, True]))
    data = trainer.data
    uncaptioned = replace(data, texts=data.empty_text.expand_as(data.texts).clone())
    with torch.no_grad():
        loss_kept, loss_dropped = trainer.loss(kept).item(), trainer.loss(dropped).item()
        trainer.data = uncaptioned
        loss_empty = trainer.loss(kept).item()
    assert loss_dropped == pytest.approx(loss_empty, rel=1e-6)
    assert loss_dropped != pytest.approx(loss_kept, rel=1e-6)
    drawn = trainer.draw_batch(torch.Generator().manual_seed(1))
    assert not drawn.untexted.any()  # drop_text defaults to 0: captions are always used
    half = Trainer.create(
        config(data_dir, loud_model_dir, tmp_path / "half.safetensors", drop_text=0.5, batch=64)
    )
    assert 0 < int(half.draw_batch().untexted.sum()) < 64


def test_empty_or_missing_data_folder(tiny_model_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    for folder in (empty, tmp_path / "missing"):
        with pytest.raises(InvalidInput, match="training data folder"):
            train(config(folder, tiny_model_dir, tmp_path / "ip.safetensors"))


def test_bad_settings_name_the_field(tmp_path):
    with pytest.raises(InvalidInput, match="drop"):
        TrainingConfig(data=tmp_path, model="m", out=tmp_path / "ip.safetensors", drop=1.5)
    with pytest.raises(InvalidInput, match="drop_text"):
        TrainingConfig(data=tmp_path, model="m", out=tmp_path / "ip.safetensors", drop_text=-1)
    with pytest.raises(InvalidInput, match="safetensors"):
        TrainingConfig(data=tmp_path, model="m", out=tmp_path / "ip.bin")


def test_cli_trains(data_dir, tiny_model_dir, tmp_path, capsys):
    from diffeditor_app.cli import main

    out = tmp_path / "cli.safetensors"
    argv = ["train-image-prompt", "--data", str(data_dir), "--model", str(tiny_model_dir)]
    argv += ["--out", str(out), "--steps", "3", "--batch", "2", "--device", "cpu"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Trained to step 3; final loss" in printed and out.is_file()
