"""How much the image prompt moves the toy UNet's noise prediction: the reason an ablation
of it shows (or does not show) in the quality table (issue 12).

    python bench/toyworld/image_branch.py [--model models/toy] [--scenes 16] [--patterned]

Held-out scenes are noised to a few timesteps of the editing schedule. The UNet predicts the
noise with the scene's caption or an empty prompt, with the decoupled image branch off and
on at gamma 0.1 (the method's weight) and 1.0, the image tokens being the scene's own. The
report is the relative change ||eps_on - eps_off|| / ||eps_off||.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attention import TIMESTEPS, model_and_scenes
from scenes import random_scene

from diffeditor_app.engine import ModelSpec, load_model
from diffeditor_app.engine.method.inversion import encode_image, encode_prompt
from diffeditor_app.engine.tasks.registry import DEFAULTS, Task

SCALES = (DEFAULTS[Task.MOVE].ip_scale, 1.0)  # the method's gamma, and the branch at full weight


@torch.no_grad()
def image_branch_effect(model_dir: str, scenes: int, patterned: bool = False) -> dict[str, float]:
    model = load_model(ModelSpec(model_dir, device="cpu"))
    if model.image_prompt is None:
        raise SystemExit(f"{model_dir} has no image prompt")
    unet, prompt = model.unet, model.image_prompt
    alphas = model.scheduler.alphas_cumprod
    generator = torch.Generator().manual_seed(0)
    changes: dict[str, list[float]] = {}
    for index in range(scenes):
        scene = random_scene("test", index, patterned=patterned)
        rgb = scene.render().rgb
        pixels = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
        z0 = encode_image(model.vae, pixels, model.latent_scale)
        tokens, _ = prompt.encoder.encode(rgb)
        for words in ("caption", "empty prompt"):
            text = scene.caption if words == "caption" else ""
            hidden = encode_prompt(model.tokenizer, model.text_encoder, text, model.device)
            for t in TIMESTEPS:
                noise = torch.randn(z0.shape, generator=generator)
                zt = alphas[t].sqrt() * z0 + (1 - alphas[t]).sqrt() * noise
                off = unet(zt, t, encoder_hidden_states=hidden).sample
                for scale in SCALES:
                    with prompt.controller.active(tokens, scale):
                        on = unet(zt, t, encoder_hidden_states=hidden).sample
                    key = f"{words}, gamma {scale:g}"
                    changes.setdefault(key, []).append(float((on - off).norm() / off.norm()))
    return {key: sum(values) / len(values) for key, values in changes.items()}


def main(argv: list[str] | None = None) -> int:
    args = model_and_scenes(__doc__, argv)
    report = image_branch_effect(args.model, args.scenes, args.patterned)
    for key, change in report.items():
        print(f"{key:<28} eps moves by {100 * change:.2f}%")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
