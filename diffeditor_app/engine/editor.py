"""The engine's facade: `Editor(model).edit(request, on_step=...) -> EditResult`.

The editor owns the per-model machinery (bank processors, feature extractor, cost counter)
and a small cache of prepared images, so a second edit of the same image skips prepare.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from diffeditor_app.engine.errors import OutOfMemory
from diffeditor_app.engine.imaging.compose import compose
from diffeditor_app.engine.imaging.crop import paste_back
from diffeditor_app.engine.imaging.geometry import Frame, working_size
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.method.attention import BankController, MemoryBank, install_bank
from diffeditor_app.engine.method.features import FeatureExtractor, to_grid
from diffeditor_app.engine.method.inversion import (
    Prepared,
    PrepareSources,
    decode_latent,
    encode_image,
    encode_prompt,
    fit_preview,
    invert,
    working_tensor,
)
from diffeditor_app.engine.method.preview import StepPreviews
from diffeditor_app.engine.method.sampler import Conditioning, Costs, DiffEditorSampler, Levels
from diffeditor_app.engine.models.memory import out_of_memory_sentence, release_memory, synchronize
from diffeditor_app.engine.models.model import LoadedModel
from diffeditor_app.engine.requests import EditRequest, ReferenceEdit
from diffeditor_app.engine.settings import Quality
from diffeditor_app.engine.tasks.registry import PLANNERS


@dataclass(frozen=True)
class StepInfo:
    """What the step callback receives: raise EditCancelled from it to stop."""

    step: int  # 0-based index of the step just finished
    total: int
    # uint8 RGB of the current x0 estimate: the VAE's decode at the working size, or the
    # linear map at the latent grid's size (low-memory presets); None: skipped (throttle)
    preview: np.ndarray | None


@dataclass
class EditResult:
    image: Image.Image  # the composed result at the input's size (or the raw decode)
    raw: bool
    prepare_s: float  # time spent in prepare for this edit (0 when it came from the cache)
    edit_s: float  # sampling, decoding and composing
    unet_forward: int  # UNet calls of this edit, prepare's included when it ran
    unet_backward: int  # autograd.grad calls (edit and content gradients are two calls)
    prepare_unet_forward: int  # the part spent on the prepared state (inversion, F_gud)
    prepared_from_cache: bool
    seed: int
    steps: int
    resolution: int
    working_size: tuple[int, int]
    device: str
    dtype: str
    schedule: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    # batch-1 UNet forward equivalents (a batch-b forward b, a backward 2b), prepare included
    unet_work: int = 0
    quality: str = Quality.FULL.value  # the quality the edit ran at (`steps` are its own)

    def source_image(self) -> SourceImage:
        """The result as the next edit's input: what an app keeps as its current image."""
        return SourceImage.from_pil(self.image, name="result")


StepHandler = Callable[[StepInfo], None]
PrepareHandler = Callable[[int, int], None]  # (inversion steps done, total)
Interrupt = Callable[[], None]  # called before every UNet call; raises EditCancelled to stop


class Editor:
    """Runs edits on one loaded model; not thread-safe (one worker thread owns it)."""

    def __init__(self, model: LoadedModel, cache_size: int = 2) -> None:
        if getattr(model.unet, "_diffeditor_editor", False):
            raise ValueError("This model already has an Editor; reuse that one.")
        model.unet._diffeditor_editor = True  # bank processors and counters are per model
        self.model = model
        self.controller = BankController()
        install_bank(model.unet, self.controller)
        self.extractor = FeatureExtractor(model.unet, model.profile.feature_blocks)
        self.cache: OrderedDict[tuple, Prepared] = OrderedDict()
        self.cache_size = cache_size
        self.costs = Costs()
        self._interrupt: Interrupt | None = None
        self._forward_hook = model.unet.register_forward_pre_hook(self._before_forward)

    def _before_forward(self, module, args) -> None:
        """Every UNet call is counted, with the batch it runs (its work), and is where a
        cancel lands (within one call). An early-exit feature pass counts as a whole one."""
        if self._interrupt is not None:
            self._interrupt()
        self.costs.unet_forward += 1
        self.costs.unet_work += args[0].shape[0]

    def close(self) -> None:
        """Detach from the model: its hook held this editor, and this editor the model, in a
        cycle that only the cyclic collector could free. After close, dropping the last
        reference frees the model at once, in the thread that drops it."""
        self._forward_hook.remove()
        self.cache.clear()
        self.model.unet._diffeditor_editor = False

    # -- prepare -------------------------------------------------------------------------

    def default_resolution(self) -> int:
        """The profile's working resolution, lowered to the memory plan's cap (not below the
        profile's range)."""
        profile, cap = self.model.profile, self.model.memory.resolution_cap
        if cap is None:
            return profile.default_resolution
        return max(min(profile.default_resolution, cap), profile.resolution_range[0])

    def frame_for(self, image: SourceImage, resolution: int | None) -> tuple[Frame, int]:
        profile = self.model.profile
        resolution = self.default_resolution() if resolution is None else resolution
        profile.check_resolution(resolution)
        work_w, work_h = working_size(image.width, image.height, resolution, profile.size_multiple)
        frame = Frame(image.width, image.height, work_w, work_h, self.model.latent_factor)
        return frame, resolution

    def prepare(
        self,
        sources: PrepareSources,
        frame: Frame,
        steps: int,
        bank_steps: frozenset[int],
        on_step: PrepareHandler | None = None,
    ) -> tuple[Prepared, bool]:
        """The prepared state of one image (or a base and its reference, inverted as one
        batch of two), from the cache when possible."""
        m = self.model
        key = (
            *(image.digest() for image in sources.images),
            *sources.prompts,
            m.identity,
            str(m.dtype),
            str(m.device),
            (frame.work_width, frame.work_height),
            steps,
            bank_steps,
        )
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key], True
        start, forward_before = time.perf_counter(), self.costs.unet_forward
        with torch.no_grad():
            pixels = torch.cat([working_tensor(rgb, m.device) for rgb in sources.working(frame)])
            z0 = encode_image(m.vae, pixels, m.latent_scale).to(m.dtype)
            text = torch.cat(
                [encode_prompt(m.tokenizer, m.text_encoder, p, m.device) for p in sources.prompts]
            )
            uncond = encode_prompt(m.tokenizer, m.text_encoder, "", m.device)
            m.scheduler.set_timesteps(steps)
            timesteps = [int(t) for t in m.scheduler.timesteps]
            bank = MemoryBank(host=m.memory.bank_on_host)
            latents = invert(
                m.unet,
                self.controller,
                z0,
                text,
                timesteps,
                m.scheduler.alphas_cumprod.double().tolist(),
                float(m.scheduler.final_alpha_cumprod),
                bank_steps,
                bank,
                on_step,
            )
            projection = fit_preview(z0[:1], pixels[:1])
            tokens = self.image_tokens(sources) if m.image_prompt is not None else None
        synchronize(m.device)  # prepare_s counts the GPU work prepare queued, not just its launch
        prepared = Prepared(
            key=key,
            frame=frame,
            timesteps=timesteps,
            latents=latents,
            text=text,
            uncond=uncond,
            bank=bank,
            projection=projection,
            image_tokens=tokens,
            prepare_s=time.perf_counter() - start,
        )
        self.costs.prepare_unet_forward += self.costs.unet_forward - forward_before
        self.cache[key] = prepared
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return prepared, False

    def image_tokens(self, sources: PrepareSources) -> torch.Tensor:
        """[unconditional, conditional] image tokens: one image's 64, or the base's and the
        reference's concatenated (128) for the two-image tasks."""
        encoder = self.model.image_prompt.encoder
        pairs = [encoder.encode(image.rgb) for image in sources.images]
        uncond = torch.cat([u for _, u in pairs], dim=1)
        cond = torch.cat([c for c, _ in pairs], dim=1)
        return torch.cat([uncond, cond]).to(self.model.dtype)

    def reference_features(self, prepared: Prepared, i: int) -> tuple[Levels, Levels | None]:
        """F_gud (and F_ref) at step i on the feature grid; computed once per prepared state
        and step, in one batch for both images, stored at the blocks' own resolution. Both
        images see the base prompt, as F_gen does (the reference code does the same): the
        features compared then differ by their content, not by their captions."""
        if i not in prepared.features:
            self.costs.prepare_unet_forward += 1
            latents = prepared.latents[i]
            text = prepared.text[:1].expand(latents.shape[0], -1, -1)
            with torch.no_grad():
                prepared.features[i] = self.extractor(latents, prepared.timesteps[i], text)
        features, grid = prepared.features[i], prepared.frame.grid_shape
        reference = to_grid(features, grid, 1) if features[0].shape[0] > 1 else None
        return to_grid(features, grid, 0), reference

    # -- edit ----------------------------------------------------------------------------

    def edit(
        self,
        request: EditRequest,
        on_step: StepHandler | None = None,
        on_prepare: PrepareHandler | None = None,
        interrupt: Interrupt | None = None,
        preview_budget: float | None = None,
    ) -> EditResult:
        """Carry out one edit. Bad input raises InvalidInput before any model work; the
        callbacks may raise EditCancelled (`interrupt` runs before every UNet call, so a
        cancel lands within one call, in prepare as in sampling); running out of device
        memory raises OutOfMemory naming the memory preset to try, with the memory
        released. `preview_budget` caps the VAE previews' share of the sampling time (the
        GUI's worker); None decodes every step's preview."""
        self._interrupt = interrupt
        try:
            return self._edit(request, on_step, on_prepare, preview_budget)
        except torch.OutOfMemoryError:
            pass  # leave the handler first: its traceback holds the failed step's tensors
        finally:
            self._interrupt = None
        self.cache.clear()
        release_memory()
        raise OutOfMemory(out_of_memory_sentence(self.model.memory, self.model.device))

    def _edit(
        self,
        request: EditRequest,
        on_step: StepHandler | None,
        on_prepare: PrepareHandler | None,
        preview_budget: float | None = None,
    ) -> EditResult:
        request.checked()  # at once when its builder checked it in this process
        crop = request.working_crop()
        if crop is not None:  # edit the crop at the working size, then put it back
            result = self._edit(request.cropped(crop), on_step, on_prepare, preview_budget)
            if not request.raw:
                result.image = paste_back(request.image, result.source_image(), crop).to_pil()
            return result
        m = self.model
        settings = request.settings or m.profile.task_settings(request.task)
        settings = settings.with_overrides(request.overrides)
        settings.validate()
        steps, settings = settings.for_quality(request.quality, request.steps)
        frame, resolution = self.frame_for(request.image, request.resolution)
        plan = PLANNERS[request.task](request, frame, settings, m.device)
        self.costs = Costs()
        sources = PrepareSources((request.image,), (request.prompt,))
        if isinstance(request, ReferenceEdit):
            sources = PrepareSources(
                (request.image, request.reference),
                (request.prompt, request.reference_prompt),
                plan.letterbox,
            )
        prepared, cached = self.prepare(
            sources, frame, steps, settings.bank_steps(steps), on_prepare
        )
        start = time.perf_counter()
        sampler = DiffEditorSampler(
            m.unet, m.scheduler, self.extractor, self.controller, settings, self.costs
        )
        cond = Conditioning(
            timesteps=prepared.timesteps,
            latents=prepared.latents,
            text=prepared.text[:1],
            uncond=prepared.uncond,
            bank=prepared.bank,
            reference_features=lambda i: self.reference_features(prepared, i),
            image_tokens=prepared.image_tokens if request.image_prompt else None,
            image_prompt=m.image_prompt.controller if m.image_prompt is not None else None,
        )
        generator = torch.Generator(m.device).manual_seed(request.seed)

        decode = None
        if not m.memory.linear_previews:
            decode = lambda x0: decode_latent(m.vae, x0, m.latent_scale)  # noqa: E731
        previews = StepPreviews(decode, prepared.projection, preview_budget)

        def report(i: int, x0: torch.Tensor) -> None:
            if on_step is not None:
                on_step(StepInfo(i, steps, previews(x0, i, steps)))

        with torch.no_grad():
            z0 = sampler.sample(cond, plan, frame.grid_shape, generator, report)
            decoded = decode_latent(m.vae, z0, m.latent_scale)
        if request.raw:
            image = Image.fromarray(decoded, "RGB")
        else:
            image = compose(request.image, decoded, plan.region, request.content_alpha())
        return EditResult(
            image=image,
            raw=request.raw,
            prepare_s=0.0 if cached else prepared.prepare_s,
            edit_s=time.perf_counter() - start,
            unet_forward=self.costs.unet_forward,
            unet_backward=self.costs.unet_backward,
            prepare_unet_forward=self.costs.prepare_unet_forward,
            prepared_from_cache=cached,
            seed=request.seed,
            steps=steps,
            resolution=resolution,
            working_size=(frame.work_width, frame.work_height),
            device=str(m.device),
            dtype=str(m.dtype).removeprefix("torch."),
            schedule=settings.schedule.describe(steps),
            notes=list(m.notes) + plan.notes,
            unet_work=self.costs.unet_work,
            quality=Quality(request.quality).value,
        )
