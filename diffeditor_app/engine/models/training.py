"""Training the image-prompt encoder (paper Eq. 6; ALGORITHM.md §5.5).

    L = E_{x0, t, eps ~ N(0, I)} || eps - eps_theta(z_t, t, c, c_im) ||^2          (paper Eq. 6)

Symbols: x0 an image of the data folder; z0 = VAE(x0) its latent (the mean, times the scaling
factor); t ~ U{0, ..., T - 1} with T the scheduler's training steps; z_t = sqrt(a_t) z0 +
sqrt(1 - a_t) eps (`scheduler.add_noise`); c the text tokens of the image's caption; c_im =
resampler(CLIP(x0)) the image tokens, fed to the decoupled branch at gamma = 1 (paper Eq. 5).
With probability `drop` per sample c_im is replaced by resampler(CLIP(0)), the tokens of an
all-zero normalised pixel tensor, so the unconditional branch that classifier-free guidance
needs is learned along with the conditional one. With probability `drop_text` per sample c is
the empty prompt's tokens instead, so that the image tokens must carry what the caption would
have said (IP-Adapter drops text the same way; a base model whose captions say everything
otherwise leaves the image branch nothing to learn).

Frozen: the UNet, VAE, text encoder and CLIP vision tower. Trained: the resampler (proj_in,
latents, layers, proj_out, norm_out) and every attn2's `to_k_ip` / `to_v_ip`. Because the
frozen encoders never change, their outputs (z0, CLIP hidden states, caption tokens) are
computed once per image before the first step.

A long run can be cut off, so it checkpoints every `checkpoint_every` steps, and a resumed run
is bit-for-bit the run that was not interrupted: the checkpoint holds the trained weights, the
AdamW (and fp16 loss-scaler) state and the state of the one generator that draws every
random number of the loop.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import nn

from diffeditor_app.engine.errors import InvalidInput, ModelUnavailable, quoted
from diffeditor_app.engine.imaging.images import load_image
from diffeditor_app.engine.imaging.outputs import write_atomically
from diffeditor_app.engine.method.image_prompt import (
    ImagePrompt,
    ImagePromptAttnProcessor,
    ImagePromptController,
    ImagePromptEncoder,
    Resampler,
    ResamplerConfig,
    clip_features,
    clip_pixels,
    install_image_prompt,
)
from diffeditor_app.engine.method.inversion import encode_image, encode_prompt, working_tensor
from diffeditor_app.engine.models.hub import hub_snapshot
from diffeditor_app.engine.models.image_prompt_weights import (
    PARTS,
    StateDicts,
    check_state,
    load_vision,
    locate_encoder,
)
from diffeditor_app.engine.models.loading import HUB_PATTERNS, load_model, locate, resolve_device
from diffeditor_app.engine.models.model import LoadedModel, ModelSpec

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
CAPTION_SUFFIX = ".txt"  # NAME.txt next to NAME.png holds the caption
TRAIN_SCALE = 1.0  # gamma during training: IP-Adapter trains the image branch at full strength
ADAM_BETAS = (0.9, 0.999)  # AdamW's defaults, as IP-Adapter trains with
WEIGHT_DECAY = 1e-2
CHECKPOINT_FORMAT = 1  # bumped when the checkpoint's keys change
CHECKPOINT_SUFFIX = ".ckpt.pt"  # OUT.safetensors -> OUT.ckpt.pt
LOSS_LOG_SUFFIX = ".loss.csv"  # OUT.safetensors -> OUT.loss.csv
AMP_DTYPES = (torch.float16, torch.bfloat16)  # model dtypes trained under CUDA autocast


@dataclass(frozen=True)
class TrainingConfig:
    """One training run; the CLI's `train-image-prompt` options, one field each."""

    data: Path  # folder of images, each with an optional NAME.txt caption
    model: str  # the frozen base model: any spec `load_model` accepts
    out: Path  # the trained weights (.safetensors, the public flattened layout)
    steps: int = 1000  # total optimiser steps, counted across resumed runs
    batch: int = 4  # samples per step, drawn with replacement
    lr: float = 1e-5  # AdamW learning rate (paper: 1e-5)
    drop: float = 0.05  # probability that a sample's image tokens are the unconditional ones
    drop_text: float = 0.0  # probability that a sample's caption is the empty prompt
    resume: Path | None = None  # a checkpoint written by an earlier run of this config
    checkpoint_every: int = 100  # steps between checkpoints (one is always written at the end)
    seed: int = 0  # seeds fresh weights and every random draw of the loop
    resolution: int | None = None  # square working side; None: the model profile's default
    device: str = "auto"  # auto | cuda | cpu
    dtype: str = "auto"  # auto | fp16 | bf16 | fp32; the CPU always trains in fp32
    image_encoder: str | None = None  # CLIP vision spec; None: the model's own / h94/IP-Adapter
    progress: bool = True  # a tqdm bar on stderr with the step and the loss
    resampler_width: int = ResamplerConfig.dim  # fresh weights only: the resampler's width
    resampler_depth: int = ResamplerConfig.depth  # fresh weights only: perceiver blocks
    image_tokens: int = ResamplerConfig.num_queries  # fresh weights only: tokens per image

    def __post_init__(self) -> None:
        for name in ("data", "out", "resume"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        checks = [
            ("steps", self.steps >= 1, "at least 1"),
            ("batch", self.batch >= 1, "at least 1"),
            ("lr", self.lr > 0 and math.isfinite(self.lr), "a positive number"),
            ("drop", 0.0 <= self.drop <= 1.0, "between 0 and 1"),
            ("drop_text", 0.0 <= self.drop_text <= 1.0, "between 0 and 1"),
            ("checkpoint_every", self.checkpoint_every >= 1, "at least 1"),
            ("resolution", self.resolution is None or self.resolution >= 1, "positive"),
            ("resampler_width", self.resampler_width >= 1, "at least 1"),
            ("resampler_depth", self.resampler_depth >= 1, "at least 1"),
            ("image_tokens", self.image_tokens >= 1, "at least 1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                value = getattr(self, name)
                raise InvalidInput(f"The training {name} must be {allowed}, got {value}.")
        if self.out.suffix.lower() != ".safetensors":
            raise InvalidInput(f"The training output '{self.out}' must end in .safetensors.")

    @property
    def checkpoint(self) -> Path:
        return self.out.with_suffix(CHECKPOINT_SUFFIX)

    @property
    def loss_log(self) -> Path:
        return self.out.with_suffix(LOSS_LOG_SUFFIX)


@dataclass
class TrainingReport:
    """What a run did: the last step, its loss, and where everything was written."""

    step: int
    final_loss: float  # the loss of the last step (NaN when no step was ever taken)
    losses: list[float]  # one per step, from step 1, across resumed runs
    out: Path
    checkpoint: Path
    loss_log: Path
    seconds: float = 0.0  # wall time of this run, loading included
    notes: list[str] = field(default_factory=list)  # things worth telling the user once


# -- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One training image and its caption ("" when it has no NAME.txt)."""

    path: Path
    caption: str


def find_examples(folder: Path) -> list[Example]:
    """Every image under `folder` (subfolders too, hidden files skipped), sorted so that the
    item numbers, and with them a seeded run, do not depend on the file system's order."""
    if not folder.is_dir():
        raise InvalidInput(f"The training data folder {quoted(folder)} does not exist.")
    paths = sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    if not paths:
        raise InvalidInput(
            f"The training data folder {quoted(folder)} holds no images "
            f"({', '.join(sorted(IMAGE_SUFFIXES))})."
        )
    examples = []
    for path in paths:
        caption_file = path.with_suffix(CAPTION_SUFFIX)
        caption = caption_file.read_text(errors="replace").strip() if caption_file.is_file() else ""
        examples.append(Example(path, caption))
    return examples


def center_square(rgb: np.ndarray, side: int) -> np.ndarray:
    """The largest centred square, resized to side x side (Lanczos): the VAE target x0."""
    image = ImageOps.fit(Image.fromarray(rgb), (side, side), Image.LANCZOS)
    return np.asarray(image)


@dataclass(eq=False)
class TrainingData:
    """Outputs of the frozen encoders for every example, on the CPU (moved per batch).

    Memory grows with the data set: with SD1.5 and ViT-H/14 one image costs about 0.7 MB in
    fp16 (1.3 MB in fp32), dominated by its 257 x 1280 CLIP hidden states."""

    latents: torch.Tensor  # [N, 4, h, w] z0, float32
    features: torch.Tensor  # [N, L, D_vision] CLIP penultimate hidden states, model dtype
    captions: torch.Tensor  # [N] index into `texts`
    texts: torch.Tensor  # [C, 77, D_text] text tokens of the C distinct captions
    empty_text: torch.Tensor  # [1, 77, D_text] text tokens of the empty prompt
    zero_features: torch.Tensor  # [1, L, D_vision] CLIP of the all-zero normalised pixels
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)


@torch.no_grad()
def encode_examples(
    examples: list[Example], model: LoadedModel, vision: nn.Module, side: int, progress: bool
) -> TrainingData:
    """Encode each example once. CLIP sees the whole image through `clip_pixels`, the very
    preprocessing `ImagePromptEncoder.encode` applies when editing, so the resampler trains on
    the inputs it will get; the VAE sees the centred square crop at the working side."""
    from tqdm.auto import tqdm

    size = int(vision.config.image_size)
    latents, features, captions = [], [], []
    distinct: dict[str, int] = {}
    for example in tqdm(examples, desc="encoding", unit="image", disable=not progress):
        rgb = load_image(example.path).rgb
        pixels = working_tensor(center_square(rgb, side), model.device)
        latents.append(encode_image(model.vae, pixels, model.latent_scale).float().cpu())
        features.append(clip_features(vision, clip_pixels(rgb, size)).cpu())
        captions.append(distinct.setdefault(example.caption, len(distinct)))
    texts = [
        encode_prompt(model.tokenizer, model.text_encoder, caption, model.device).cpu()
        for caption in distinct
    ]
    zero = torch.zeros(1, 3, size, size)  # all-zero *normalised* pixels, not a black image
    return TrainingData(
        latents=torch.cat(latents),
        features=torch.cat(features),
        captions=torch.tensor(captions, dtype=torch.long),
        texts=torch.cat(texts),
        empty_text=encode_prompt(model.tokenizer, model.text_encoder, "", model.device).cpu(),
        zero_features=clip_features(vision, zero).cpu(),
        names=[example.path.name for example in examples],
    )


# -- the trained modules ---------------------------------------------------------------------


def model_folder(source: str) -> Path | None:
    """The diffusers folder behind a model spec, where its `image_encoder/` may live."""
    kind, where = locate(source)
    if kind == "folder":
        return where
    if kind == "hub":
        return hub_snapshot(str(where), allow_download=False, patterns=HUB_PATTERNS)
    return None


def fresh_image_prompt(
    model: LoadedModel,
    image_encoder: str | None,
    folder: Path | None,
    seed: int,
    shape: ResamplerConfig | None = None,
) -> ImagePrompt:
    """A new resampler (`shape`'s width, depth and tokens, ResamplerConfig's by default; its
    input and output widths from the CLIP tower and the UNet) and new decoupled processors,
    for a model without image-prompt weights. Small models want a small resampler: the
    public shape alone is 4 x 7 M parameters.

    `to_k_ip` / `to_v_ip` start as copies of their layer's text `to_k` / `to_v`, as IP-Adapter
    initialises them: the image branch then produces keys and values in the range the layer
    already handles, instead of random ones that swamp the text branch at gamma = 1."""
    vision = load_vision(
        locate_encoder(image_encoder, folder, allow_download=False), model.dtype, model.device
    )
    config = replace(
        shape or ResamplerConfig(),
        embedding_dim=int(vision.config.hidden_size),
        output_dim=int(model.unet.config.cross_attention_dim),
    )
    with torch.random.fork_rng(devices=[]):  # seeded, without touching the caller's RNG
        torch.manual_seed(seed)
        resampler = Resampler(config)
    controller = ImagePromptController()
    adapter = install_image_prompt(model.unet, controller)
    with torch.no_grad():
        for name, slot in zip(model.unet.attn_processors, adapter, strict=True):
            if isinstance(slot, ImagePromptAttnProcessor):
                attention = model.unet.get_submodule(name.removesuffix(".processor"))
                slot.to_k_ip.weight.copy_(attention.to_k.weight)
                slot.to_v_ip.weight.copy_(attention.to_v.weight)
    resampler.to(model.device)
    return ImagePrompt(ImagePromptEncoder(vision, resampler), controller, adapter)


def ip_processors(prompt: ImagePrompt) -> list[ImagePromptAttnProcessor]:
    return [slot for slot in prompt.adapter if isinstance(slot, ImagePromptAttnProcessor)]


def make_trainable(prompt: ImagePrompt) -> list[nn.Parameter]:
    """Gradients for the resampler and the image K/V only, kept in fp32 (the master weights
    that autocast computes from); everything else stays frozen. The order of the returned
    list is fixed, which the optimiser state in a checkpoint relies on."""
    prompt.encoder.vision.requires_grad_(False).eval()
    resampler = prompt.encoder.resampler.float().requires_grad_(True).train()
    parameters = list(resampler.parameters())
    for processor in ip_processors(prompt):
        processor.float().requires_grad_(True)
        parameters += [processor.to_k_ip.weight, processor.to_v_ip.weight]
    return parameters


def public_state(prompt: ImagePrompt) -> StateDicts:
    """The weights in the public layout (`image_proj`, `ip_adapter`), as CPU copies."""
    modules = {"image_proj": prompt.encoder.resampler, "ip_adapter": prompt.adapter}
    return {
        part: {key: t.detach().cpu().clone() for key, t in modules[part].state_dict().items()}
        for part in PARTS
    }


def load_public_state(prompt: ImagePrompt, state: StateDicts, what: str) -> None:
    """Strict load into the live modules; a mismatch is one sentence (ModelUnavailable)."""
    check_state(prompt.encoder.resampler, state["image_proj"], f"{what} (image_proj)")
    check_state(prompt.adapter, state["ip_adapter"], f"{what} (ip_adapter)")
    prompt.encoder.resampler.load_state_dict(state["image_proj"], strict=True)
    prompt.adapter.load_state_dict(state["ip_adapter"], strict=True)


def save_weights(prompt: ImagePrompt, path: Path) -> None:
    """The flattened public layout (`image_proj.latents`, `ip_adapter.1.to_k_ip.weight`) that
    `read_weights` + `build_image_prompt` load strictly."""
    from safetensors.torch import save

    state = public_state(prompt)
    flat = {f"{part}.{key}": t.contiguous() for part in PARTS for key, t in state[part].items()}
    write_atomically(path, lambda stream: stream.write(save(flat)))


# -- the loop --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Every random draw of one step, made on the CPU from one generator so that a run is the
    same on any device and a checkpoint needs to keep only that generator's state."""

    items: torch.Tensor  # [B] example indices, drawn with replacement
    timesteps: torch.Tensor  # [B] t ~ U{0, ..., T - 1}
    noise: torch.Tensor  # [B, 4, h, w] eps ~ N(0, I)
    dropped: torch.Tensor  # [B] bool: this sample gets the unconditional image tokens
    untexted: torch.Tensor  # [B] bool: this sample gets the empty prompt's text tokens


def draw_batch(
    generator: torch.Generator,
    size: int,
    count: int,
    latent_shape: tuple[int, ...],
    train_timesteps: int,
    drop: float,
    drop_text: float,
) -> Batch:
    return Batch(
        items=torch.randint(count, (size,), generator=generator),
        timesteps=torch.randint(train_timesteps, (size,), generator=generator),
        noise=torch.randn((size, *latent_shape), generator=generator),
        dropped=torch.rand(size, generator=generator) < drop,
        untexted=torch.rand(size, generator=generator) < drop_text,
    )


class LossLog:
    """`step,loss` lines next to the weights, appended as the run goes so that a long job can
    be watched; a resumed run rewrites it from the checkpoint's losses first, so the file
    always matches the weights it sits beside."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def restart(self, losses: list[float]) -> None:
        lines = ["step,loss\n", *(f"{i},{loss!r}\n" for i, loss in enumerate(losses, 1))]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(lines))

    def append(self, step: int, loss: float) -> None:
        with self.path.open("a") as file:
            file.write(f"{step},{loss!r}\n")


@dataclass(eq=False)
class Trainer:
    """The state of one run: frozen model, trained modules, cached data, optimiser, generator.

    `train` drives it; tests use it directly to look at the model and to evaluate the loss on
    a fixed batch."""

    config: TrainingConfig
    model: LoadedModel
    prompt: ImagePrompt
    data: TrainingData
    parameters: list[nn.Parameter]
    optimizer: torch.optim.AdamW
    scaler: torch.amp.GradScaler
    generator: torch.Generator
    step: int = 0
    losses: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, config: TrainingConfig) -> Trainer:
        """Load the frozen model, find the starting weights, encode the data."""
        examples = find_examples(config.data)  # before the model: a bad folder fails at once
        device, notes = resolve_device(config.device)
        dtype = config.dtype
        if device.type != "cuda" and dtype != "fp32":
            if dtype != "auto":
                notes.append(f"Training on {device.type} runs in fp32, not {dtype}.")
            dtype = "fp32"
        model = load_model(
            ModelSpec(
                source=config.model,
                device=str(device),
                dtype=dtype,
                image_encoder=config.image_encoder,
            )
        )
        notes += [note for note in model.notes if "image prompt" not in note]
        side = config.resolution or model.profile.default_resolution
        model.profile.check_resolution(side)
        if side % model.profile.size_multiple:
            raise InvalidInput(
                f"The training resolution must be a multiple of {model.profile.size_multiple} "
                f"for this model, got {side}."
            )
        prompt = model.image_prompt
        if prompt is None:
            folder = model_folder(config.model)
            shape = ResamplerConfig(
                dim=config.resampler_width,
                depth=config.resampler_depth,
                num_queries=config.image_tokens,
            )
            prompt = fresh_image_prompt(model, config.image_encoder, folder, config.seed, shape)
            notes.append("The model has no image-prompt weights: training fresh ones.")
        model.unet.eval()
        parameters = make_trainable(prompt)
        data = encode_examples(examples, model, prompt.encoder.vision, side, config.progress)
        optimizer = torch.optim.AdamW(
            parameters, lr=config.lr, betas=ADAM_BETAS, weight_decay=WEIGHT_DECAY
        )
        fp16 = model.device.type == "cuda" and model.dtype is torch.float16
        scaler = torch.amp.GradScaler("cuda", enabled=fp16)  # fp16 gradients underflow
        generator = torch.Generator().manual_seed(config.seed)
        trainer = cls(config, model, prompt, data, parameters, optimizer, scaler, generator)
        trainer.notes = notes
        return trainer

    # - Eq. 6 -

    def draw_batch(self, generator: torch.Generator | None = None) -> Batch:
        """The next batch from the run's generator, or from `generator` (leaving the run's
        sequence untouched: a fixed evaluation batch)."""
        return draw_batch(
            generator or self.generator,
            self.config.batch,
            len(self.data),
            tuple(self.data.latents.shape[1:]),
            int(self.model.scheduler.config.num_train_timesteps),
            self.config.drop,
            self.config.drop_text,
        )

    def autocast(self) -> contextlib.AbstractContextManager:
        """fp16/bf16 autocast on CUDA; plain fp32 elsewhere."""
        if self.model.device.type == "cuda" and self.model.dtype in AMP_DTYPES:
            return torch.autocast("cuda", dtype=self.model.dtype)
        return contextlib.nullcontext()

    def loss(self, batch: Batch) -> torch.Tensor:
        """Paper Eq. 6 on one batch: || eps - eps_theta(z_t, t, c, c_im) ||^2, the mean over
        every element (the target is v instead of eps for a v-prediction model)."""
        device, scheduler, unet = self.model.device, self.model.scheduler, self.model.unet
        z0 = self.data.latents[batch.items].to(device)
        noise = batch.noise.to(device)
        t = batch.timesteps.to(device)
        z_t = scheduler.add_noise(z0, noise, t)
        text = self.data.texts[self.data.captions[batch.items]]
        text = torch.where(batch.untexted[:, None, None], self.data.empty_text, text)
        text = text.to(device, unet.dtype)
        features = torch.cat([self.data.features[batch.items], self.data.zero_features])
        with self.autocast():
            # the unconditional tokens go through the resampler every step: it is trained
            tokens = self.prompt.encoder.resampler(features.to(device, torch.float32))
            conditional, unconditional = tokens[:-1], tokens[-1:]
            dropped = batch.dropped.to(device)[:, None, None]
            tokens = torch.where(dropped, unconditional, conditional)
            with self.prompt.controller.active(tokens, TRAIN_SCALE):
                prediction = unet(z_t.to(unet.dtype), t, encoder_hidden_states=text).sample
        kind = scheduler.config.prediction_type
        if kind == "epsilon":
            target = noise
        elif kind == "v_prediction":
            target = scheduler.get_velocity(z0, noise, t)
        else:
            raise ModelUnavailable(f"Training needs an epsilon or v-prediction model, not {kind}.")
        return F.mse_loss(prediction.float(), target.float())

    def train_step(self) -> float:
        """One AdamW step on a fresh batch; returns its loss."""
        loss = self.loss(self.draw_batch())
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        value = float(loss.item())
        self.losses.append(value)
        return value

    # - checkpoints -

    def checkpoint_state(self) -> dict[str, Any]:
        """Plain tensors, dicts, lists and numbers only: loadable with weights_only=True."""
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "weights": public_state(self.prompt),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "losses": list(self.losses),
            "settings": self.settings(),
        }

    def settings(self) -> dict[str, Any]:
        """What must match for a resumed run to continue the interrupted one exactly."""
        c = self.config
        side = int(self.data.latents.shape[-1] * self.model.latent_factor)
        return {
            "batch": c.batch,
            "drop": c.drop,
            "drop_text": c.drop_text,
            "seed": c.seed,
            "resolution": side,
            "lr": c.lr,
            "items": len(self.data),
        }

    def save(self) -> None:
        """Checkpoint, then the weights: both always describe the same step."""
        state = self.checkpoint_state()
        write_atomically(self.config.checkpoint, lambda stream: torch.save(state, stream))
        save_weights(self.prompt, self.config.out)

    def restore(self, path: Path) -> None:
        """Continue from a checkpoint: weights, optimiser, loss scaler, generator, losses."""
        if not path.is_file():
            raise InvalidInput(f"The checkpoint {quoted(path)} does not exist.")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise InvalidInput(
                f"{quoted(path)} was refused: loading it would run code it contains."
            ) from None
        except (RuntimeError, EOFError, OSError) as error:
            raise InvalidInput(f"{quoted(path)} is not a readable checkpoint ({error}).") from None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise InvalidInput(f"{quoted(path)} is not a training checkpoint of this version.")
        load_public_state(self.prompt, state["weights"], f"checkpoint {quoted(path.name)}")
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # the lr asked for now, not the saved one
            group["lr"] = self.config.lr
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
        self.losses = [float(loss) for loss in state["losses"]]
        saved, now = state.get("settings", {}), self.settings()
        changed = sorted(key for key in now if key in saved and saved[key] != now[key])
        if changed:
            self.notes.append(
                f"Resumed with a different {', '.join(changed)}: the run will differ from "
                "an uninterrupted one."
            )

    # - driving -

    def run(self, on_step: Callable[[int, float], None] | None = None) -> TrainingReport:
        """Step up to `config.steps`, checkpointing as configured and at the end."""
        from tqdm.auto import tqdm

        config, started = self.config, time.perf_counter()
        log = LossLog(config.loss_log)
        log.restart(self.losses)
        bar = tqdm(
            total=config.steps,
            initial=min(self.step, config.steps),
            desc="training",
            unit="step",
            disable=not config.progress,
        )
        saved = False
        with bar:
            while self.step < config.steps:
                loss = self.train_step()
                saved = False
                log.append(self.step, loss)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
                if self.step % config.checkpoint_every == 0:
                    self.save()
                    saved = True
                if on_step is not None:
                    with self.saving_on_error():
                        on_step(self.step, loss)
        if not saved:
            self.save()
        return TrainingReport(
            step=self.step,
            final_loss=self.losses[-1] if self.losses else math.nan,
            losses=list(self.losses),
            out=config.out,
            checkpoint=config.checkpoint,
            loss_log=config.loss_log,
            seconds=time.perf_counter() - started,
            notes=list(self.notes),
        )

    @contextlib.contextmanager
    def saving_on_error(self) -> Iterator[None]:
        """A callback that stops the run (cancel, Ctrl-C) finds a finished step: keep it."""
        try:
            yield
        except BaseException:
            self.save()
            raise


def train(
    config: TrainingConfig, on_step: Callable[[int, float], None] | None = None
) -> TrainingReport:
    """Train the image-prompt encoder (paper Eq. 6), resuming from `config.resume` if given.

    `on_step(step, loss)` is called after every step and may raise to stop the run; the
    finished steps are checkpointed first."""
    started = time.perf_counter()
    trainer = Trainer.create(config)
    if config.resume is not None:
        trainer.restore(config.resume)
    report = trainer.run(on_step)
    report.seconds = time.perf_counter() - started
    return report
