"""Tiny random Stable-Diffusion-architecture models, built offline in seconds.

Same block structure as SD1.5 (four UNet levels, cross-attention where SD has it, a CLIP
text encoder, a KL VAE), only narrow. Tests, benchmarks and `diffeditor models tiny` use it.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import torch

from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.models.loading import MODELS_DIR, prepare_modules, quiet_libraries
from diffeditor_app.engine.models.model import PROFILE_FILE, LoadedModel, ModelProfile
from diffeditor_app.engine.models.sd15 import CLIP_SPECIALS, write_clip_tokenizer, write_sd15_files
from diffeditor_app.engine.requests import EditRequest
from diffeditor_app.engine.tasks.base import Scene
from diffeditor_app.engine.tasks.registry import TASKS

TINY_PROFILE = ModelProfile(
    feature_blocks=(1, 2),
    default_resolution=64,  # 16 x 16 latents: a whole edit takes seconds on a CPU
    resolution_range=(64, 256),
    size_multiple=32,  # VAE factor 4 x three UNet downsamplings
)

TINY_UNET = {
    "sample_size": 16,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": [16, 32, 32, 32],
    "layers_per_block": 1,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "cross_attention_dim": 32,
    "attention_head_dim": 4,
    "norm_num_groups": 8,
}

TINY_VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "block_out_channels": [16, 32, 32],
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 64,
}

TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 77,
    "projection_dim": 32,
}

TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 32,
    "patch_size": 8,
    "projection_dim": 32,
}

TINY_RESAMPLER = {"dim": 32, "depth": 1, "num_queries": 8, "ff_mult": 2}

# A random UNet's eps is no consistent noise estimate, so DDIM inversion of it drifts far
# (about 50% relative error over 50 steps). Scaling the output head down makes eps vary
# smoothly in z, as a trained model's does: inversion then reconstructs (under 1%), and the
# edits of the tiny model stay close to their input, which makes its outputs readable.
HEAD_DAMPING = 0.05


def _unit_scaling_factor(vae) -> float:
    """1 / std of the latents of a few synthetic scenes, as SD's 0.18215 was measured."""
    scenes = [square_scene(64, 64)[0].rgb, square_scene(96, 64)[0].rgb[:, ::-1].copy()]
    pixels = torch.stack([torch.from_numpy(s[:64, :64].copy()) for s in scenes])
    pixels = pixels.permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        std = vae.encode(pixels).latent_dist.mean.std().item()
    return round(1.0 / max(std, 1e-6), 5)


def _write_tokenizer(folder: Path) -> int:
    """A character-level CLIP tokenizer (no merges): every text tokenizes, offline."""
    symbols = string.ascii_lowercase + string.digits + ".,;:!?'\"-()/&"
    vocab: dict[str, int] = {}
    for symbol in symbols:
        vocab[symbol] = len(vocab)
        vocab[symbol + "</w>"] = len(vocab)
    for special in CLIP_SPECIALS:
        vocab[special] = len(vocab)
    write_clip_tokenizer(folder, vocab)
    return len(vocab)


def write_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny random SD1.x model in diffusers layout (safetensors) and return its path."""
    quiet_libraries()
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = _write_tokenizer(folder / "tokenizer")
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**TINY_UNET)
    with torch.no_grad():  # see HEAD_DAMPING
        unet.conv_out.weight.mul_(HEAD_DAMPING)
        unet.conv_out.bias.mul_(HEAD_DAMPING)
    unet.save_pretrained(folder / "unet")
    vae = AutoencoderKL(**TINY_VAE)
    vae.register_to_config(scaling_factor=_unit_scaling_factor(vae))
    vae.save_pretrained(folder / "vae")
    text_config = CLIPTextConfig(
        vocab_size=vocab_size,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        **TINY_TEXT,
    )
    CLIPTextModel(text_config).save_pretrained(folder / "text_encoder")
    write_sd15_files(folder)
    _write_tiny_image_prompt(folder, unet)
    (folder / PROFILE_FILE).write_text(json.dumps(TINY_PROFILE.to_json(), indent=2))
    return folder


def build_random_model(
    config_folder: str | Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    profile: ModelProfile | None = None,
    seed: int = 0,
) -> LoadedModel:
    """Random-weight components from an architecture folder such as `models/sd15`: the same
    arithmetic as the real weights, without a download (benchmarks). On the `meta` device
    nothing is allocated, which is enough to check shapes. The modules are in inference mode
    on `device`; `loading.place_model` applies a memory plan to them."""
    import tempfile

    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    quiet_libraries()
    folder = Path(config_folder)
    if not folder.is_absolute() and not folder.exists():
        folder = MODELS_DIR / folder
    torch.manual_seed(seed)
    with torch.device(device):
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet"))
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(folder / "vae"))
        text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder"))
    with tempfile.TemporaryDirectory() as scratch:
        _write_tokenizer(Path(scratch))
        tokenizer = CLIPTokenizer.from_pretrained(scratch)
    scheduler = DDIMScheduler.from_config(DDIMScheduler.load_config(folder / "scheduler"))
    model = LoadedModel(
        unet.to(dtype),
        vae,
        text_encoder.to(dtype),
        tokenizer,
        scheduler,
        profile or ModelProfile(),
        torch.device(device),
        dtype,
        name=f"random {folder.name}",
        identity=f"random:{folder.resolve()}:{seed}",
    )
    prepare_modules(model)
    return model


def add_random_image_prompt(
    model: LoadedModel, vision_folder: str | Path, resampler: dict[str, int] | None = None
) -> None:
    """A random CLIP vision tower from `vision_folder/config.json` and random image-prompt
    modules (the public layout's shapes unless `resampler` gives others), on the model's
    device and dtype: the full-size image-prompt arithmetic for benchmarks."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from diffeditor_app.engine.method.image_prompt import (
        ImagePrompt,
        ImagePromptController,
        ImagePromptEncoder,
        Resampler,
        ResamplerConfig,
        install_image_prompt,
    )

    with torch.device(model.device):
        vision = CLIPVisionModelWithProjection(CLIPVisionConfig.from_pretrained(vision_folder))
        config = ResamplerConfig(
            embedding_dim=vision.config.hidden_size,
            output_dim=model.unet.config.cross_attention_dim,
            **(resampler or {}),
        )
        sampler = Resampler(config)
    controller = ImagePromptController()
    adapter = install_image_prompt(model.unet, controller)
    for module in (vision, sampler, adapter):
        module.to(model.device, model.dtype).eval().requires_grad_(False)
    model.image_prompt = ImagePrompt(ImagePromptEncoder(vision, sampler), controller, adapter)


def square_scene(width: int = 96, height: int = 64) -> tuple[SourceImage, np.ndarray]:
    """A beige gradient with a red square: a scene with an exact object mask."""
    cols = np.linspace(0, 1, width)[None, :, None]
    rgb = np.broadcast_to(np.array([200, 185, 150]) + 40 * cols, (height, width, 3))
    rgb = np.ascontiguousarray(rgb.astype(np.uint8))
    mask = np.zeros((height, width), dtype=bool)
    top, left, side = height * 5 // 16, width // 4, max(2, min(width, height) // 4)
    mask[top : top + side, left : left + side] = True
    rgb[mask] = (220, 30, 30)
    return SourceImage(rgb, name="square scene"), mask


def tinted_scene(run: int, width: int, height: int) -> tuple[SourceImage, np.ndarray]:
    """`square_scene` with a run-dependent corner pixel: the same work as the plain scene,
    yet a new image to the prepare cache (benchmarks measure prepare on every run)."""
    image, mask = square_scene(width, height)
    rgb = image.rgb.copy()
    rgb[0, 0] = (run % 256, run // 256 % 256, 0)
    return SourceImage(rgb), mask


def scene_requests(image: SourceImage, mask: np.ndarray, steps: int) -> dict[str, EditRequest]:
    """Every task's example requests on a `square_scene`, in the proportions of the image
    (the two-image tasks get a reference of another size, letterboxed)."""
    h, w = mask.shape
    reference, ref_mask = square_scene(w * 3 // 4, h)
    region = np.zeros_like(mask)
    region[h // 8 : h - h // 8, w // 8 : w - w // 8] = True
    scene = Scene(image, mask, region, reference, ref_mask, steps)
    requests: dict[str, EditRequest] = {}
    for spec in TASKS.values():
        requests.update(spec.examples(scene))
    return requests


def _write_tiny_image_prompt(folder: Path, unet) -> None:
    """A tiny CLIP vision tower (`image_encoder/`) and random image-prompt weights in the
    public layout (`image_prompt/ip_adapter.safetensors`)."""
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from diffeditor_app.engine.method.image_prompt import (
        ImagePromptController,
        Resampler,
        ResamplerConfig,
        install_image_prompt,
    )

    CLIPVisionModelWithProjection(CLIPVisionConfig(**TINY_VISION)).save_pretrained(
        folder / "image_encoder"
    )
    config = ResamplerConfig(
        embedding_dim=TINY_VISION["hidden_size"],
        output_dim=TINY_UNET["cross_attention_dim"],
        **TINY_RESAMPLER,
    )
    adapter = install_image_prompt(unet, ImagePromptController())
    flat = {f"image_proj.{k}": v for k, v in Resampler(config).state_dict().items()}
    flat.update({f"ip_adapter.{k}": v for k, v in adapter.state_dict().items()})
    (folder / "image_prompt").mkdir(exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in flat.items()},
        str(folder / "image_prompt" / "ip_adapter.safetensors"),
    )


TINY_SAM_INPUT = 64  # the tiny SAM's input side: a 4 x 4 embedding grid at patch 16
TINY_SAM_WIDTH = 32  # channels of every tiny SAM part


def write_tiny_sam(folder: str | Path, seed: int = 0) -> Path:
    """A tiny random Segment Anything (SamModel + SamProcessor) saved as a local folder,
    loadable by engine.selection.sam exactly like a downloaded one; its masks are random."""
    quiet_libraries()
    from transformers import SamConfig, SamModel, SamProcessor
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    width, side, patch = TINY_SAM_WIDTH, TINY_SAM_INPUT, 16
    config = SamConfig(
        vision_config=dict(
            hidden_size=width,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=side,
            patch_size=patch,
            output_channels=width,
            global_attn_indexes=[1],
            window_size=2,
            mlp_dim=2 * width,
            num_pos_feats=width // 2,
        ),
        prompt_encoder_config=dict(
            hidden_size=width, image_size=side, patch_size=patch, image_embedding_size=side // patch
        ),
        mask_decoder_config=dict(
            hidden_size=width, mlp_dim=2 * width, num_attention_heads=2, iou_head_hidden_dim=width
        ),
    )
    torch.manual_seed(seed)
    model = SamModel(config).eval()
    images = SamImageProcessorPil(
        size={"longest_edge": side}, pad_size={"height": side, "width": side}
    )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    SamProcessor(image_processor=images).save_pretrained(folder)
    return folder
