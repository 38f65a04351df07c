"""Give the toy model an image-prompt encoder: a CLIP vision tower trained contrastively
against the toy captions, then the resampler and decoupled attention trained by
`diffeditor train-image-prompt`'s code (paper Eq. 6) on that frozen tower.

    python bench/toyworld/image_prompt.py [--steps 2000]   # after bench/toyworld/train.py

A random frozen tower (the first toy model's) gave tokens of different images a cosine of
0.69-0.97, and its image branch moved eps by 0.5-1% (issue 12): the tower has to know the
toy world before an image prompt can say anything the caption does not. Both stages
checkpoint under `--work` and resume where they stopped.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes import random_scene

from diffeditor_app.engine.method.image_prompt import clip_features, clip_pixels
from diffeditor_app.engine.models.training import TrainingConfig, train

REPO = Path(__file__).resolve().parents[2]
VISION_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 3,  # the resampler reads the second layer's output
    "num_attention_heads": 2,
    "image_size": 64,  # the scenes' own size: no detail is resampled away
    "patch_size": 8,  # 8 x 8 patches + the class token
    "projection_dim": 64,
}
RESAMPLER = {"resampler_width": 128, "resampler_depth": 2, "image_tokens": 16}
DATA_SCENES = 2_000  # training scenes written as PNG + caption for the trainer
WEIGHTS = Path("image_prompt") / "ip_adapter.safetensors"  # where the loader looks


@dataclass(frozen=True)
class TowerPlan:
    """The contrastive (CLIP-style) training of the toy vision tower."""

    scenes: int = 6_000  # training scenes, preprocessed once as the engine does
    steps: int = 800  # 150 steps already took the token cosine from 0.58 to 0.25
    batch: int = 64
    lr: float = 1e-3
    temperature: float = 0.07  # initial softmax temperature (CLIP's), learned from there
    checkpoint_every: int = 100
    patterned: bool = False  # scenes with striped objects (scenes.random_scene)


def caption_targets(captions: list[str]) -> torch.Tensor:
    """Rows of the contrastive targets: an image matches every caption equal to its own, so
    two scenes that read the same are not pushed apart."""
    same = torch.tensor([[a == b for b in captions] for a in captions], dtype=torch.float32)
    return same / same.sum(dim=1, keepdim=True)


def train_vision_tower(model: Path, work: Path, plan: TowerPlan, seed: int) -> None:
    """CLIP's loss between the tower's projected class token and the model's own (frozen) text
    encoder through a learned projection; resumable from `work`/tower.ckpt.pt."""
    from tqdm.auto import tqdm
    from transformers import (
        CLIPTextModel,
        CLIPTokenizer,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    if (model / "image_encoder").exists():
        return
    torch.manual_seed(seed)
    tower = CLIPVisionModelWithProjection(CLIPVisionConfig(**VISION_CONFIG))
    text = CLIPTextModel.from_pretrained(model / "text_encoder").eval().requires_grad_(False)
    tokenizer = CLIPTokenizer.from_pretrained(model / "tokenizer")
    width = VISION_CONFIG["projection_dim"]
    text_projection = torch.nn.Linear(text.config.hidden_size, width, bias=False)
    log_scale = torch.nn.Parameter(torch.tensor(float(np.log(1 / plan.temperature))))
    params = [*tower.parameters(), *text_projection.parameters(), log_scale]
    optimiser = torch.optim.AdamW(params, lr=plan.lr)
    scenes = [random_scene("train", i, patterned=plan.patterned) for i in range(plan.scenes)]
    pixels = torch.cat([clip_pixels(s.render().rgb, VISION_CONFIG["image_size"]) for s in scenes])
    captions = [s.caption for s in scenes]
    with torch.no_grad():
        ids = tokenizer(captions, padding="max_length", max_length=77, return_tensors="pt")
        pooled = torch.cat(
            [text(ids.input_ids[i : i + 512]).pooler_output for i in range(0, len(scenes), 512)]
        )
    generator = torch.Generator().manual_seed(seed)
    ckpt, step = work / "tower.ckpt.pt", 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        tower.load_state_dict(state["tower"])
        text_projection.load_state_dict(state["text_projection"])
        log_scale.data.copy_(state["log_scale"])
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"])
        step = state["step"]
    bar = tqdm(total=plan.steps, initial=step, desc="vision tower")
    while step < plan.steps:
        pick = torch.randint(len(scenes), (plan.batch,), generator=generator)
        images = F.normalize(tower(pixels[pick]).image_embeds, dim=-1)
        words = F.normalize(text_projection(pooled[pick]), dim=-1)
        logits = log_scale.exp().clamp(max=100) * images @ words.T
        targets = caption_targets([captions[i] for i in pick.tolist()])
        loss = (
            torch.sum(-targets * logits.log_softmax(dim=1), dim=1).mean()
            + torch.sum(-targets.T * logits.T.log_softmax(dim=1), dim=1).mean()
        ) / 2
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % plan.checkpoint_every == 0 or step == plan.steps:
            state = {"tower": tower.state_dict(), "text_projection": text_projection.state_dict()}
            state |= {"log_scale": log_scale.detach(), "optimiser": optimiser.state_dict()}
            state |= {"generator": generator.get_state(), "step": step}
            torch.save(state, ckpt.with_suffix(".tmp"))
            ckpt.with_suffix(".tmp").replace(ckpt)
    bar.close()
    tower.save_pretrained(model / "image_encoder")


@torch.no_grad()
def token_cosine(vision: torch.nn.Module, count: int = 32) -> float:
    """Mean cosine between the penultimate CLIP tokens (what the resampler reads) of two
    different held-out scenes, each image's token sequence taken as one vector."""
    size = int(vision.config.image_size)
    rgb = [random_scene("test", i).render().rgb for i in range(count)]
    tokens = clip_features(vision, torch.cat([clip_pixels(x, size) for x in rgb]))
    flat = F.normalize(tokens.flatten(1).float(), dim=-1)
    cos = flat @ flat.T
    return float(cos[~torch.eye(count, dtype=torch.bool)].mean())


def write_data(folder: Path, count: int, patterned: bool = False) -> None:
    if (folder / "done").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        scene = random_scene("train", i, patterned=patterned)
        Image.fromarray(scene.render().rgb).save(folder / f"{i:05d}.png")
        (folder / f"{i:05d}.txt").write_text(scene.caption)
    (folder / "done").write_text("")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "toy")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "toyworld" / "work")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--tower-steps", type=int, default=TowerPlan.steps)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)  # from scratch: 10x the paper's
    parser.add_argument("--seed", type=int, default=0)
    # the toy captions name every object and colour: with them always present the image
    # branch learns almost nothing (loss 0.0366 -> 0.0324 over 1200 steps without dropping)
    parser.add_argument("--drop-text", type=float, default=0.5)
    parser.add_argument("--patterned", action="store_true", help="striped objects in the scenes")
    args = parser.parse_args(argv)
    if (args.model / WEIGHTS).exists():
        print(f"{args.model / WEIGHTS} exists already: delete it to train again")
        return 1
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    tower_plan = TowerPlan(steps=args.tower_steps, patterned=args.patterned)
    train_vision_tower(args.model, work, tower_plan, args.seed)
    from transformers import CLIPVisionModelWithProjection

    tower = CLIPVisionModelWithProjection.from_pretrained(args.model / "image_encoder")
    print(f"vision tower: token cosine between scenes {token_cosine(tower):.3f}", flush=True)
    data = args.work / "image_prompt_data"
    write_data(data, DATA_SCENES, args.patterned)
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
