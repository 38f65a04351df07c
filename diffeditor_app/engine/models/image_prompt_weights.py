"""Image-prompt weights and the CLIP vision tower: finding, reading, checking, converting.

The public checkpoint `ip_sd15_64.bin` is a pickle {"image_proj": ..., "ip_adapter": ...};
it is read only with `torch.load(weights_only=True)`. Safetensors files hold the same keys
flattened with those two prefixes (`image_proj.latents`, `ip_adapter.1.to_k_ip.weight`).
"""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import torch
from torch import nn

from diffeditor_app.engine.errors import ModelUnavailable, first_line, quoted
from diffeditor_app.engine.method.image_prompt import (
    ImagePrompt,
    ImagePromptController,
    ImagePromptEncoder,
    Resampler,
    ResamplerConfig,
    install_image_prompt,
)
from diffeditor_app.engine.models.hub import hub_file, hub_snapshot
from diffeditor_app.engine.models.model import LoadedModel

IMAGE_PROMPT_HUB = "Adapter/DragonDiffusion"
IMAGE_PROMPT_HUB_FILE = "model/ip_sd15_64.bin"
IMAGE_ENCODER_HUB = "h94/IP-Adapter"
IMAGE_ENCODER_HUB_FOLDER = "models/image_encoder"
FOLDER_WEIGHTS = ("image_prompt/ip_adapter.safetensors", "image_prompt/ip_sd15_64.bin")
FOLDER_ENCODER = "image_encoder"
PARTS = ("image_proj", "ip_adapter")
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt"}

StateDicts = dict[str, dict[str, torch.Tensor]]


def read_weights(path: Path) -> StateDicts:
    """{"image_proj": ..., "ip_adapter": ...} from a .safetensors file or a weights-only pickle."""
    if not path.is_file():
        raise ModelUnavailable(f"The image-prompt weights {quoted(path)} do not exist.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            flat = load_file(str(path))
        except Exception as error:  # safetensors raises its own error types
            raise ModelUnavailable(
                f"{quoted(path)} is not a readable safetensors file ({first_line(error)})."
            ) from None
        state: StateDicts = {part: {} for part in PARTS}
        for key, tensor in flat.items():
            part, _, rest = key.partition(".")
            if part not in state:
                raise ModelUnavailable(
                    f"{quoted(path)} has the key '{key}', outside image_proj/ip_adapter."
                )
            state[part][rest] = tensor
        return state
    if path.suffix not in PICKLE_SUFFIXES:
        raise ModelUnavailable(f"{quoted(path)} is neither a .safetensors nor a .bin weights file.")
    try:
        with warnings.catch_warnings():  # e.g. torch's note on the pickle protocol
            warnings.simplefilter("ignore")
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # the weights-only unpickler refused something
        why = (
            "loading it could run code it contains"  # it names a function or a class
            if "GLOBAL" in str(error)
            else "it holds pickle data other than plain tensors, or it is damaged"
        )
        raise ModelUnavailable(
            f"{quoted(path)} was refused: it is not a plain-tensor checkpoint, and {why}."
        ) from None
    except Exception as error:  # corrupt files fail as KeyError, RuntimeError, EOFError...
        raise ModelUnavailable(
            f"{quoted(path)} is not a readable weights file ({first_line(error)})."
        ) from None
    return check_parts(path, loaded)


def check_parts(path: Path, loaded: object) -> StateDicts:
    """The two parts of a loaded pickle, each a dict of named tensors, or one sentence."""
    if not isinstance(loaded, dict) or set(loaded) != set(PARTS):
        keys = sorted(map(str, loaded))[:4] if isinstance(loaded, dict) else type(loaded).__name__
        raise ModelUnavailable(
            f"{quoted(path)} is not an image-prompt checkpoint: expected image_proj and "
            "ip_adapter, "
            f"found {keys}."
        )
    for part in PARTS:
        tensors = loaded[part]
        if not isinstance(tensors, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
        ):
            raise ModelUnavailable(
                f"{quoted(path)} is not an image-prompt checkpoint: its {part} is not a dict of "
                "named tensors."
            )
    return loaded


def convert(source: Path, target: Path) -> int:
    """Pickle -> safetensors, flattening the two parts; returns the number of tensors."""
    from safetensors.torch import save_file

    if target.suffix != ".safetensors":
        raise ModelUnavailable(f"'{target}' must end in .safetensors.")
    state = read_weights(source)
    flat = {f"{part}.{key}": t.contiguous() for part in PARTS for key, t in state[part].items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(flat, str(target))
    return len(flat)


def check_state(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """One sentence naming the first missing, extra or mis-shaped keys; silent when strict
    loading will succeed."""
    expected = {key: tuple(t.shape) for key, t in module.state_dict().items()}
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [
        f"{k} is {tuple(state[k].shape)} not {shape}"
        for k, shape in expected.items()
        if k in state and tuple(state[k].shape) != shape
    ]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ModelUnavailable(
            f"The {what} do not fit this model: {'; '.join(problems[:3])}{more}."
        )


def locate_weights(
    spec: str | None, model_folder: Path | None, allow_download: bool
) -> Path | None:
    """The weights file for a spec: a file, a folder holding one, a hub repo (optionally
    followed by a path inside it); None (no spec) tries the model folder, then the cache."""
    if spec is None:
        for relative in FOLDER_WEIGHTS:
            if model_folder is not None and (model_folder / relative).is_file():
                return model_folder / relative
        try:
            return hub_file(IMAGE_PROMPT_HUB, IMAGE_PROMPT_HUB_FILE, allow_download=False)
        except ModelUnavailable:
            return None
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for name in ("ip_adapter.safetensors", "ip_sd15_64.bin", *FOLDER_WEIGHTS):
            if (path / name).is_file():
                return path / name
        raise ModelUnavailable(
            f"{quoted(path)} holds no image-prompt weights (ip_adapter.safetensors)."
        )
    parts = spec.split("/")
    if len(parts) < 2 or spec.startswith((".", "/", "~")) or (len(parts) == 2 and path.suffix):
        raise ModelUnavailable(f"The image-prompt weights '{spec}' do not exist.")
    repo, inner = "/".join(parts[:2]), "/".join(parts[2:]) or IMAGE_PROMPT_HUB_FILE
    return hub_file(repo, inner, allow_download)


def locate_encoder(spec: str | None, model_folder: Path | None, allow_download: bool) -> Path:
    """The CLIP vision folder: a folder, a hub repo (h94/IP-Adapter's models/image_encoder by
    default), or the model folder's own `image_encoder/`."""
    if spec is None and model_folder is not None and (model_folder / FOLDER_ENCODER).is_dir():
        return model_folder / FOLDER_ENCODER
    spec = spec or IMAGE_ENCODER_HUB
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if spec.count("/") != 1 or spec.startswith((".", "/", "~")):
        raise ModelUnavailable(f"The image encoder '{spec}' does not exist.")
    inner = IMAGE_ENCODER_HUB_FOLDER if spec == IMAGE_ENCODER_HUB else ""
    pattern = f"{inner}/*" if inner else "*"
    return hub_snapshot(spec, allow_download, patterns=[pattern]) / inner


def load_vision(folder: Path, dtype: torch.dtype, device: torch.device) -> nn.Module:
    from transformers import CLIPVisionModelWithProjection

    config_path = folder / "config.json"
    try:
        kind = json.loads(config_path.read_text()).get("model_type")
    except (OSError, ValueError):
        kind = None
    if kind not in {"clip_vision_model", "clip"}:
        raise ModelUnavailable(f"{quoted(folder)} is not a CLIP vision model folder (config.json).")
    try:
        vision = CLIPVisionModelWithProjection.from_pretrained(folder, torch_dtype=dtype)
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelUnavailable(
            f"{quoted(folder)} could not be loaded as a CLIP vision model: {first_line(error)}."
        ) from None
    return vision.to(device).eval().requires_grad_(False)


def build_image_prompt(model: LoadedModel, vision: nn.Module, state: StateDicts) -> ImagePrompt:
    """Resampler and decoupled processors shaped by the CLIP tower and the UNet, loaded
    strictly; any mismatch is one sentence naming the first offending keys, and leaves the
    UNet's processors as they were. On the `meta` device (a model from
    `build_random_model(..., device="meta")` and a checkpoint of meta tensors) it checks the
    shapes of the full-size modules without allocating anything."""
    proj = state["image_proj"]
    if "latents" not in proj or "proj_in.weight" not in proj or "layers.0.1.1.weight" not in proj:
        raise ModelUnavailable("The image-prompt weights lack the resampler (image_proj) keys.")
    shapes = ResamplerConfig.from_state_dict(proj)
    config = ResamplerConfig(
        embedding_dim=vision.config.hidden_size,
        dim=shapes.dim,
        depth=shapes.depth,
        num_queries=shapes.num_queries,
        output_dim=model.unet.config.cross_attention_dim,
        ff_mult=shapes.ff_mult,
    )
    with torch.device("meta"):  # no random initialisation only to be overwritten
        resampler = Resampler(config)
    check_state(resampler, proj, "image-prompt weights (image_proj)")
    resampler.to_empty(device=model.device).load_state_dict(proj, strict=True)
    controller = ImagePromptController()
    before = dict(model.unet.attn_processors)
    adapter = install_image_prompt(model.unet, controller)
    try:
        check_state(adapter, state["ip_adapter"], "image-prompt weights (ip_adapter)")
        adapter.load_state_dict(state["ip_adapter"], strict=True)
    except BaseException:
        model.unet.set_attn_processor(before)
        raise
    adapter.to(model.device, model.dtype).requires_grad_(False)
    resampler.to(model.device, model.dtype).eval().requires_grad_(False)
    return ImagePrompt(ImagePromptEncoder(vision, resampler), controller, adapter)


def attach_image_prompt(
    model: LoadedModel,
    weights: str | None,
    encoder: str | None,
    model_folder: Path | None,
    allow_download: bool,
) -> None:
    """Give the model its image prompt. An explicit spec must load; without one, a model that
    has no weights (or no CLIP encoder to go with weights it found) edits with the image
    prompt off and says so once (ALGORITHM.md §1.3)."""
    if weights == "none":
        return
    path = locate_weights(weights, model_folder, allow_download)
    if path is None:
        model.notes.append("No image-prompt weights found: editing with the image prompt off.")
        return
    try:
        encoder_folder = locate_encoder(encoder, model_folder, allow_download)
    except ModelUnavailable as error:
        if weights is not None or encoder is not None:
            raise
        model.notes.append(
            f"No CLIP image encoder for the image-prompt weights ({first_line(error)}): "
            "editing with the image prompt off."
        )
        return
    vision = load_vision(encoder_folder, model.dtype, model.device)
    model.image_prompt = build_image_prompt(model, vision, read_weights(path))
