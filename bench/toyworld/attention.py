"""How selective the toy UNet's self-attention is: the memory bank can only copy content
when a query attends to a few keys (issue 12).

    python bench/toyworld/attention.py [--model models/toy] [--scenes 16] [--patterned]

For each decoder self-attention layer (the memory bank's layers), held-out scenes are noised
to a few timesteps of the editing schedule and run through the UNet with their captions;
the report gives the attention entropy as a fraction of the uniform distribution's (1: every
key weighted alike) and the top weight as a multiple of the uniform weight 1 / keys.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes import random_scene

from diffeditor_app.engine import ModelSpec, load_model
from diffeditor_app.engine.method.inversion import encode_image, encode_prompt

REPO = Path(__file__).resolve().parents[2]
TIMESTEPS = (261, 501, 741)  # late, middle and early steps of the 50-step schedule


def attention_probabilities(attn, hidden: torch.Tensor) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d)) of a self-attention layer: [batch, heads, queries, keys]."""
    heads = attn.heads
    q, k = attn.to_q(hidden), attn.to_k(hidden)
    b, n, c = q.shape
    q = q.view(b, n, heads, c // heads).transpose(1, 2)
    k = k.view(b, n, heads, c // heads).transpose(1, 2)
    return (q @ k.transpose(-1, -2) * (c // heads) ** -0.5).softmax(dim=-1)


@torch.no_grad()
def selectivity(
    model_dir: str, scenes: int, patterned: bool = False
) -> dict[str, dict[str, float]]:
    model = load_model(ModelSpec(model_dir, device="cpu"))
    unet = model.unet
    layers = {
        name.removesuffix(".processor"): unet.get_submodule(name.removesuffix(".processor"))
        for name in unet.attn_processors
        if name.startswith("up_blocks") and "attn1" in name
    }
    captured: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    hooks = [
        attn.register_forward_pre_hook(
            lambda module, args, kwargs, name=name: captured[name].append(
                attention_probabilities(module, args[0] if args else kwargs["hidden_states"])
            ),
            with_kwargs=True,
        )
        for name, attn in layers.items()
    ]
    alphas = model.scheduler.alphas_cumprod
    generator = torch.Generator().manual_seed(0)
    for index in range(scenes):
        scene = random_scene("test", index, patterned=patterned)
        pixels = torch.from_numpy(scene.render().rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
        z0 = encode_image(model.vae, pixels, model.latent_scale)
        text = encode_prompt(model.tokenizer, model.text_encoder, scene.caption, model.device)
        for t in TIMESTEPS:
            noise = torch.randn(z0.shape, generator=generator)
            zt = alphas[t].sqrt() * z0 + (1 - alphas[t]).sqrt() * noise
            unet(zt, t, encoder_hidden_states=text)
    for hook in hooks:
        hook.remove()
    report = {}
    for name, probs in captured.items():
        p = torch.cat(probs)  # [N, heads, queries, keys]
        keys = p.shape[-1]
        entropy = -(p * p.clamp_min(1e-12).log()).sum(-1) / math.log(keys)
        report[name] = {
            "keys": keys,
            "channels_per_head": layers[name].to_q.out_features // layers[name].heads,
            "entropy_vs_uniform": float(entropy.mean()),
            "top_weight_x_uniform": float(p.amax(-1).mean() * keys),
        }
    return report


def model_and_scenes(doc: str, argv: list[str] | None) -> argparse.Namespace:
    """The options of a measurement over held-out scenes: --model, --scenes, --patterned."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / "models" / "toy"))
    parser.add_argument("--scenes", type=int, default=16)
    parser.add_argument("--patterned", action="store_true", help="the patterned toy world")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = model_and_scenes(__doc__, argv)
    report = selectivity(args.model, args.scenes, args.patterned)
    for name, row in report.items():
        print(
            f"{name:<48} {row['keys']:>4} keys, {row['channels_per_head']:>3} ch/head: entropy "
            f"{row['entropy_vs_uniform']:.3f} of uniform, top weight "
            f"{row['top_weight_x_uniform']:.1f}x uniform"
        )
    print(
        json.dumps(
            {"mean_entropy": float(np.mean([r["entropy_vs_uniform"] for r in report.values()]))}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
