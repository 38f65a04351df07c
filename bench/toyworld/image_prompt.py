"""Give the toy model an image-prompt encoder, trained by `diffeditor train-image-prompt`'s code.

    python bench/toyworld/image_prompt.py [--steps 3000]   # after bench/toyworld/train.py

The CLIP vision tower is a small random ViT, frozen (CLARIFICATIONS 22 allows it): random
patch embeddings still carry each patch's colours and layout linearly, and the resampler
and the decoupled keys and values that read it are what Eq. 6 trains. The training run
checkpoints under `--work` and resumes where it stopped.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes import random_scene

from diffeditor_app.engine.training import TrainingConfig, train

REPO = Path(__file__).resolve().parents[2]
VISION_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 64,  # the scenes' own size: no detail is resampled away
    "patch_size": 8,  # 8 x 8 patches + the class token
    "projection_dim": 64,
}
RESAMPLER = {"resampler_width": 128, "resampler_depth": 2, "image_tokens": 16}
DATA_SCENES = 2_000  # training scenes written as PNG + caption for the trainer
WEIGHTS = Path("image_prompt") / "ip_adapter.safetensors"  # where the loader looks


def write_vision_tower(model: Path, seed: int) -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    if (model / "image_encoder").exists():
        return
    torch.manual_seed(seed)
    tower = CLIPVisionModelWithProjection(CLIPVisionConfig(**VISION_CONFIG))
    tower.save_pretrained(model / "image_encoder")


def write_data(folder: Path, count: int) -> None:
    if (folder / "done").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        scene = random_scene("train", i)
        Image.fromarray(scene.render().rgb).save(folder / f"{i:05d}.png")
        (folder / f"{i:05d}.txt").write_text(scene.caption)
    (folder / "done").write_text("")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "toy")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "toyworld" / "work")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)  # from scratch: 10x the paper's
    parser.add_argument("--seed", type=int, default=0)
    # the toy captions name every object and colour: with them always present the image
    # branch learns almost nothing (loss 0.0366 -> 0.0324 over 1200 steps without dropping)
    parser.add_argument("--drop-text", type=float, default=0.5)
    args = parser.parse_args(argv)
    if (args.model / WEIGHTS).exists():
        print(f"{args.model / WEIGHTS} exists already: delete it to train again")
        return 1
    write_vision_tower(args.model, args.seed)
    data = args.work / "image_prompt_data"
    write_data(data, DATA_SCENES)
    out = args.work / "image_prompt" / "ip_adapter.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = out.with_suffix(".ckpt.pt")
    report = train(
        TrainingConfig(
            data=data,
            model=str(args.model),
            out=out,
            steps=args.steps,
            batch=args.batch,
            lr=args.lr,
            drop_text=args.drop_text,
            resume=checkpoint if checkpoint.exists() else None,
            checkpoint_every=50,
            seed=args.seed,
            device="cpu",
            **RESAMPLER,
        )
    )
    (args.model / WEIGHTS).parent.mkdir(exist_ok=True)
    shutil.copyfile(out, args.model / WEIGHTS)
    losses = report.losses
    head = sum(losses[:20]) / max(1, len(losses[:20]))
    tail = sum(losses[-20:]) / max(1, len(losses[-20:]))
    print(f"image prompt: {report.step} steps, loss {head:.4f} (first 20) -> {tail:.4f} (last 20)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
