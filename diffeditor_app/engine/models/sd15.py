"""What every model written from scratch shares with SD1.5: the DDIM scheduler's configuration,
CLIP's special tokens, the tokenizer files and the pipeline index of the diffusers layout.

The tiny random models (testing.py) and the trained toy model (bench/toyworld/train.py)
both write these; one home keeps them the same model family the loader expects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SD15_SCHEDULER = {  # SD1.5's DDIM configuration (its scheduler_config.json)
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}
CLIP_SPECIALS = ("<|startoftext|>", "<|endoftext|>")  # CLIP's begin- and end-of-text tokens
CLIP_MAX_TOKENS = 77  # CLIP's context length, the special tokens included
PIPELINE_INDEX = {  # model_index.json: which library class reads each folder
    "_class_name": "StableDiffusionPipeline",
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "scheduler": ["diffusers", "DDIMScheduler"],
}


def write_clip_tokenizer(
    folder: Path, vocab: dict[str, int], merges: Sequence[tuple[str, str]] = ()
) -> Any:
    """Write a CLIP tokenizer of `vocab` (token -> id) and its byte-pair `merges` to
    `folder` in the transformers layout, and return it. transformers builds a tokenizer only
    from files, so the two are written to a scratch folder first and removed after."""
    from transformers import CLIPTokenizer

    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "vocab.json").write_text(json.dumps(vocab))
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in merges)]
    (raw / "merges.txt").write_text("\n".join(lines) + "\n")
    tokenizer = CLIPTokenizer(
        str(raw / "vocab.json"), str(raw / "merges.txt"), model_max_length=CLIP_MAX_TOKENS
    )
    tokenizer.save_pretrained(folder)
    for file in raw.iterdir():
        file.unlink()
    raw.rmdir()
    return tokenizer


def write_sd15_files(folder: Path) -> None:
    """The scheduler folder and model_index.json of an SD1.5-layout model in `folder`."""
    from diffusers import DDIMScheduler

    DDIMScheduler(**SD15_SCHEDULER).save_pretrained(folder / "scheduler")
    (folder / "model_index.json").write_text(json.dumps(PIPELINE_INDEX, indent=2) + "\n")
