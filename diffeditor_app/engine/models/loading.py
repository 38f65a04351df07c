"""Model specs -> loaded Stable Diffusion 1.x components, with the offline rules of the house.

A spec is a diffusers folder, a single `.safetensors` / `.ckpt` checkpoint, a hub repo id
resolved through the Hugging Face cache, or the name of a model shipped under `models/`.
Anything missing fails at once with one sentence that says what to do.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from pathlib import Path

import torch

from diffeditor_app.engine.errors import InvalidInput, ModelUnavailable, first_line, quoted
from diffeditor_app.engine.method.attention import set_attention_chunk
from diffeditor_app.engine.models.hub import hub_snapshot
from diffeditor_app.engine.models.image_prompt_weights import attach_image_prompt
from diffeditor_app.engine.models.memory import (
    GIB,
    MemoryPlan,
    ModelOffload,
    free_memory,
    memory_plan,
)
from diffeditor_app.engine.models.model import (
    DTYPES,
    PROFILE_FILE,
    SD15_HUB_ID,
    LoadedModel,
    ModelProfile,
    ModelSpec,
)

MODELS_DIR = Path(__file__).resolve().parents[3] / "models"
COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
HUB_PATTERNS = ["model_index.json", PROFILE_FILE, "*/*.json", "*/*.txt", "*/*.safetensors"]
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")  # the devices an edit runs on

log = logging.getLogger(__name__)


def check_device(device: str) -> None:
    """auto, cpu, cuda or cuda:N; anything else (mps, a typo) is refused before any loading."""
    if not DEVICE_PATTERN.fullmatch(device):
        raise InvalidInput(f"Unknown device '{device}'; use auto, cuda, cuda:N or cpu.")


def resolve_device(device: str) -> tuple[torch.device, list[str]]:
    check_device(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), []
        return torch.device("cpu"), ["No CUDA GPU found: running on the CPU, which is slow."]
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInput("--device cuda was asked for but no CUDA GPU is available.")
    return torch.device(device), []


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    choices = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if dtype not in choices:
        raise InvalidInput(f"Unknown dtype '{dtype}'; use {', '.join(DTYPES)}.")
    if choices[dtype] is torch.float16 and device.type == "cpu":
        raise InvalidInput("fp16 needs a CUDA GPU; use fp32 (or bf16) on the CPU.")
    bf16_on_gpu = choices[dtype] is torch.bfloat16 and device.type == "cuda"
    if bf16_on_gpu and not torch.cuda.is_bf16_supported():
        raise InvalidInput("This GPU has no bf16 support (it needs Ampere or newer); use fp16.")
    return choices[dtype]


def locate(source: str) -> tuple[str, Path]:
    """Classify a spec: ("folder" | "file" | "hub", path or repo id as a Path-like)."""
    shipped = MODELS_DIR / source
    if "/" not in source and (shipped / "model_index.json").is_file():
        return "folder", shipped
    path = Path(source).expanduser()
    if path.is_dir():
        return "folder", path
    if path.is_file():
        if path.suffix.lower() not in {".safetensors", ".ckpt"}:
            raise ModelUnavailable(
                f"{quoted(path)} is a file but not a .safetensors or .ckpt checkpoint."
            )
        return "file", path
    looks_like_repo = source.count("/") == 1 and not source.startswith((".", "/", "~"))
    if not looks_like_repo or path.suffix.lower() in {".safetensors", ".ckpt"}:
        raise ModelUnavailable(f"The model '{source}' does not exist: no such folder or file.")
    return "hub", Path(source)


TOY_MODEL_DIR = MODELS_DIR / "toy"  # trained on synthetic shape scenes only


def is_toy_model(source: str) -> bool:
    """True when `source` is the shipped toy model (by name or by its folder)."""
    try:
        kind, where = locate(source)
    except ModelUnavailable:
        return False
    return kind == "folder" and where.resolve() == TOY_MODEL_DIR.resolve()


def declared_profile(source: str) -> ModelProfile:
    """The profile the engine will read for `source`, without loading any weights or going
    online (the app shows its tuned numbers as the task defaults): a folder's, a cached hub
    repo's, else SD1.5's (single files, and specs that do not resolve, whose loading reports
    the problem)."""
    try:
        kind, where = locate(source)
        if kind == "folder":
            return folder_profile(where)
        if kind == "hub":
            return folder_profile(hub_snapshot(str(where), False, HUB_PATTERNS))
    except ModelUnavailable:
        pass
    return ModelProfile()


def folder_profile(folder: Path) -> ModelProfile:
    """The folder's `diffeditor.json`, or SD1.5's profile where it has none."""
    path = folder / PROFILE_FILE
    return ModelProfile.from_file(path) if path.is_file() else ModelProfile()


def check_sd1_folder(folder: Path) -> None:
    """A clear error for a folder that is not a Stable Diffusion 1.x model in diffusers layout."""
    missing = [c for c in COMPONENTS if not (folder / c).is_dir()]
    if missing:
        raise ModelUnavailable(
            f"{quoted(folder)} is not a Stable Diffusion 1.x model folder: "
            f"missing {', '.join(missing)}."
        )
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text())
        text = json.loads((folder / "text_encoder" / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise ModelUnavailable(f"{quoted(folder)} has an unreadable config ({error}).") from None
    problems = []
    if unet.get("in_channels") != 4 or unet.get("out_channels") != 4:
        problems.append("its UNet does not have 4 latent channels in and out")
    if len(unet.get("down_block_types", [])) != 4:
        problems.append("its UNet does not have the four levels of SD1.x")
    if unet.get("addition_embed_type"):
        problems.append("its UNet takes extra conditioning (SDXL-like)")
    if unet.get("cross_attention_dim") != text.get("hidden_size"):
        problems.append("its text encoder width does not match the UNet's cross-attention")
    if problems:
        raise ModelUnavailable(
            f"{quoted(folder)} is not a Stable Diffusion 1.x model: {'; '.join(problems)}."
        )


def load_model(spec: ModelSpec) -> LoadedModel:
    """Load the components of `spec` onto its device; fail fast with one sentence. The
    memory preset is settled first, so `auto` sees the free memory before the weights."""
    device, notes = resolve_device(spec.device)
    dtype = resolve_dtype(spec.dtype, device)
    plan = memory_plan(spec.vram_preset, device)
    if plan.automatic and device.type == "cuda":
        free = free_memory(device) / GIB
        notes.append(f"GPU memory preset '{plan.preset.value}', chosen for {free:.1f} GB free.")
    kind, where = locate(spec.source)
    folder: Path | None = None  # a diffusers folder that may also hold image-prompt parts
    if kind == "hub":
        folder = hub_snapshot(str(where), spec.allow_download, HUB_PATTERNS)
        model = _load_folder(folder, dtype, identity=f"hub:{where}@{folder.name}")
    elif kind == "folder":
        folder = where
        check_sd1_folder(folder)
        model = _load_folder(folder, dtype, identity=_file_identity(folder / "unet"))
    else:
        model = _load_single_file(where, dtype, spec.allow_download)
    model.name = spec.source
    model.notes = notes + model.notes
    prepare_modules(model)
    attach_image_prompt(model, spec.image_prompt, spec.image_encoder, folder, spec.allow_download)
    place_model(model, device, plan)
    if spec.compile_unet:
        model.unet.compile()
    return model


def _file_identity(path: Path) -> str:
    """Path plus size and modification time of everything under it."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stamp = ",".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return f"{path.resolve()}|{stamp}"


def quiet_libraries() -> None:
    """No library chatter or progress bars: the engine reports through its own results."""
    for name in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY"):
        os.environ.setdefault(name, "error")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for logging_module in (transformers_logging, diffusers_logging):
        logging_module.set_verbosity_error()
        logging_module.disable_progress_bar()


def _load_folder(folder: Path, dtype: torch.dtype, identity: str) -> LoadedModel:
    quiet_libraries()
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    check_sd1_folder(folder)
    profile = folder_profile(folder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", torch_dtype=dtype)
            vae = AutoencoderKL.from_pretrained(folder, subfolder="vae", torch_dtype=torch.float32)
            text_encoder = CLIPTextModel.from_pretrained(
                folder, subfolder="text_encoder", torch_dtype=dtype
            )
            tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
            scheduler = DDIMScheduler.from_config(
                DDIMScheduler.load_config(folder, subfolder="scheduler")
            )
    except (OSError, ValueError) as error:
        raise ModelUnavailable(
            f"{quoted(folder)} could not be loaded as a Stable Diffusion model: "
            f"{first_line(error)}."
        ) from None
    return LoadedModel(
        unet,
        vae,
        text_encoder,
        tokenizer,
        scheduler,
        profile,
        torch.device("cpu"),
        dtype,
        name=str(folder),
        identity=identity,
    )


def _load_single_file(path: Path, dtype: torch.dtype, allow_download: bool) -> LoadedModel:
    """A single SD1.x checkpoint; the configs and tokenizer come from the SD1.5 hub repo."""
    quiet_libraries()
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    configs = hub_snapshot(
        SD15_HUB_ID, allow_download, patterns=["model_index.json", "*/*.json", "*/*.txt"]
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe = StableDiffusionPipeline.from_single_file(
                str(path),
                config=str(configs),
                torch_dtype=dtype,
                local_files_only=True,
                safety_checker=None,
                requires_safety_checker=False,
            )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelUnavailable(
            f"{quoted(path)} could not be loaded as a Stable Diffusion 1.x checkpoint ({error})."
        ) from None
    scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    return LoadedModel(
        pipe.unet,
        pipe.vae.to(torch.float32),
        pipe.text_encoder,
        pipe.tokenizer,
        scheduler,
        ModelProfile(),
        torch.device("cpu"),
        dtype,
        name=str(path),
        identity=_file_identity(path),
    )


def prepare_modules(model: LoadedModel) -> None:
    """Inference mode for every module, PyTorch SDPA in every attention layer."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    model.unet.set_attn_processor(AttnProcessor2_0())
    for module in (model.unet, model.vae, model.text_encoder):
        module.requires_grad_(False)
        module.eval()


def place_model(model: LoadedModel, device: torch.device, plan: MemoryPlan) -> None:
    """Put the model's modules on `device` as `plan` wants them and switch its memory savers
    on or off; once per model, after the image prompt is attached (its processors and CLIP
    tower move with the rest)."""
    unet, vae = model.unet, model.vae
    set_attention_chunk(unet, plan.attention_chunk)
    vae.use_slicing, vae.use_tiling = plan.vae_slicing, plan.vae_tiling
    if plan.checkpoint_guidance:
        unet.enable_gradient_checkpointing()  # only grad-enabled passes: the guidance pass
    else:
        unet.disable_gradient_checkpointing()
    large, small = [unet, model.text_encoder], [vae]
    if model.image_prompt is not None:
        large.append(model.image_prompt.encoder.vision)
        small.append(model.image_prompt.encoder.resampler)
    if plan.offload_models and device.type == "cuda":
        ModelOffload(device, large)
    else:
        small += large
    for module in small:
        module.to(device)
    model.device, model.memory = device, plan
