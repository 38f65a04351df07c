"""Sharpen a toy model's VAE decoder with its encoder frozen, and ship the model with it.

    python bench/toyworld/decoder.py --model models/toy --out build/toy-sharp

Why the decoder alone: the UNet was trained on the encoder's latents, so a frozen encoder keeps
every latent, and with it the UNet, the image prompt and the tuned settings, valid. The
benchmark's "VAE round trip" ceiling showed what the decoder loses (issue 12): thin rings
filled in, white objects blurred into light backgrounds, and light backgrounds drifting far
enough to be segmented as a white object. The loss therefore weighs edges and colour more
than stage 3 of `train.py` did. Checkpointed every `checkpoint_every` steps under `--work`
and resumed bit for bit, like `train.py`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import (
    REPO,
    Plan,
    build_pool,
    checkpoint,
    gradient_l1,
    log,
    pixels,
    reconstruction_l1_mse,
    resume,
    truncate_log,
    vae_psnr_of,
)


@dataclass
class DecoderPlan:
    """The knobs of a decoder run; stored beside the checkpoint."""

    seed: int = 1
    steps: int = 1_500
    batch: int = 16
    lr: float = 2e-4
    edge: float = 2.0  # weight of the image-gradient L1: twice stage 3's, for thin shapes
    checkpoint_every: int = 100


def frozen_encoder_vae(model: Path):
    """The model's VAE with only `post_quant_conv` and the decoder left trainable."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(model / "vae")
    vae.requires_grad_(False)
    trainable = [*vae.post_quant_conv.parameters(), *vae.decoder.parameters()]
    for parameter in trainable:
        parameter.requires_grad_(True)
    return vae, trainable


def train_decoder(
    model: Path, work: Path, plan: DecoderPlan, images: np.ndarray
) -> torch.nn.Module:
    """The decoder trained on `images` (N x H x W x 3 uint8) to `plan.steps`, resuming."""
    from tqdm.auto import tqdm

    work.mkdir(parents=True, exist_ok=True)
    ckpt = work / "decoder.ckpt.pt"
    torch.manual_seed(plan.seed)
    vae, trainable = frozen_encoder_vae(model)
    optimiser = torch.optim.AdamW(trainable, lr=plan.lr)
    generator = torch.Generator().manual_seed(plan.seed)
    step = resume(ckpt, vae, optimiser, generator)
    truncate_log(work / "decoder.loss.csv", step)
    bar = tqdm(total=plan.steps, initial=step, desc="decoder")
    while step < plan.steps:
        batch = pixels(images[torch.randint(len(images), (plan.batch,), generator=generator)])
        with torch.no_grad():
            latent = vae.encode(batch).latent_dist.mean  # what the engine decodes: the mean
        decoded = vae.decode(latent).sample
        rec = reconstruction_l1_mse(decoded, batch)
        loss = rec + plan.edge * gradient_l1(decoded, batch)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{rec.item():.4f}")
        log(work / "decoder.loss.csv", step=step, loss=float(rec.item()))
        if step % plan.checkpoint_every == 0 or step == plan.steps:
            checkpoint(ckpt, vae, optimiser, generator, step)
    bar.close()
    return vae.eval().requires_grad_(False)


def ship(model: Path, vae: torch.nn.Module, out: Path) -> None:
    """A copy of `model` whose VAE is `vae` (same config, same scaling factor)."""
    if out.resolve() != model.resolve():
        shutil.copytree(model, out, dirs_exist_ok=True)
    vae.save_pretrained(out / "vae")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "toy")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "toyworld" / "work" / "dec")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "toy-sharp")
    parser.add_argument("--steps", type=int, default=DecoderPlan.steps)
    parser.add_argument("--lr", type=float, default=DecoderPlan.lr)
    parser.add_argument("--edge", type=float, default=DecoderPlan.edge)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    plan = DecoderPlan(steps=args.steps, lr=args.lr, edge=args.edge)
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "decoder-plan.json").write_text(json.dumps(asdict(plan), indent=2))
    started = time.perf_counter()
    from diffusers import AutoencoderKL

    before = vae_psnr_of(AutoencoderKL.from_pretrained(args.model / "vae").eval())
    images, _ = build_pool(args.work, Plan())
    vae = train_decoder(args.model, args.work, plan, images)
    print(f"decoder: held-out PSNR {before:.2f} -> {vae_psnr_of(vae):.2f} dB", flush=True)
    ship(args.model, vae, args.out)
    print(f"shipped to {args.out} in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
