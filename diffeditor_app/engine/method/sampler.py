"""The DiffEditor sampling loop (paper Alg. 1, ALGORITHM.md §4).

Symbols: i = step index (0 is the noisiest), j = the step of the 50-step table it behaves as,
t / t_prev = timesteps of this and the next level, a_t = alpha-bar (alphas_cumprod),
eps = classifier-free-guided noise estimate, eps_g = eps + lambda S grad E (score-based
guidance), x0 = predicted clean latent, eta = DDIM stochasticity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import torch

from diffeditor_app.engine.method.attention import BankController, MemoryBank
from diffeditor_app.engine.method.features import FeatureExtractor, to_grid
from diffeditor_app.engine.method.image_prompt import ImagePromptController
from diffeditor_app.engine.method.plans import EditPlan
from diffeditor_app.engine.settings import Renoise, TaskSettings


def renoise(z: torch.Tensor, eps: torch.Tensor, a_from: float, a_to: float) -> torch.Tensor:
    """One deterministic DDIM move between noise levels (DDIM Eq. 12 with eta = 0).

    With a_to < a_from it is a DDIM sampling step; with a_to > a_from it is DDIM inversion
    (Eq. 12 read backwards), used by prepare and by time travel (ALGORITHM.md §3.2).
    """
    x0 = (z - math.sqrt(1 - a_from) * eps) / math.sqrt(a_from)
    return math.sqrt(a_to) * x0 + math.sqrt(1 - a_to) * eps


def sigma(eta: float, a_t: float, a_prev: float) -> float:
    """s(eta) = eta sqrt((1 - a_prev) / (1 - a_t)) sqrt(1 - a_t / a_prev) (DDIM Eq. 16)."""
    return eta * math.sqrt((1 - a_prev) / (1 - a_t)) * math.sqrt(1 - a_t / a_prev)


def eta_step(
    z: torch.Tensor,
    eps: torch.Tensor,
    eps_guided: torch.Tensor,
    a_t: float,
    a_prev: float,
    eta: float,
    noise: torch.Tensor | None,
) -> torch.Tensor:
    """DDIM step with stochasticity eta: x0 from the guided eps, direction from the unguided.

    z_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - s^2) eps + s xi.
    """
    x0 = (z - math.sqrt(1 - a_t) * eps_guided) / math.sqrt(a_t)
    s = sigma(eta, a_t, a_prev)
    z_prev = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - s * s, 0.0)) * eps
    if s > 0:
        z_prev = z_prev + s * noise
    return z_prev


def regional_sde_step(
    z: torch.Tensor,
    eps: torch.Tensor,
    eps_guided: torch.Tensor,
    a_t: float,
    a_prev: float,
    eta_in: float,
    eta_out: float,
    mask: torch.Tensor,
    noise: torch.Tensor | None,
) -> torch.Tensor:
    """Regional SDE (paper Eq. 7): eta_in inside the mask, eta_out outside, one shared noise."""
    inside = eta_step(z, eps, eps_guided, a_t, a_prev, eta_in, noise)
    if eta_in == eta_out:
        return inside
    outside = eta_step(z, eps, eps_guided, a_t, a_prev, eta_out, noise)
    return mask * inside + (1 - mask) * outside


@dataclass
class Costs:
    """Machine-independent cost figures (ALGORITHM.md §10): a CFG batch of 2 is one UNet
    call, an early-exit feature pass is one call, each autograd.grad is one backward.
    `unet_work` weighs them by batch: a batch-b forward is b, a backward 2b."""

    unet_forward: int = 0
    unet_backward: int = 0
    prepare_unet_forward: int = 0  # the part of unet_forward that built the prepared state
    unet_work: int = 0  # batch-1 forward equivalents at the working size, prepare's included


BACKWARD_WORK = 2  # a backward pass counts as two forwards of its batch (ALGORITHM.md §10)

Levels = list[torch.Tensor]


@dataclass
class Conditioning:
    """What the sampler reads from the prepared state."""

    timesteps: list[int]  # sampling order, noisiest first
    latents: list[torch.Tensor]  # inverted latents: latents[i] at timesteps[i], one per image
    text: torch.Tensor  # [1, L, D] embedding of the base image's prompt
    uncond: torch.Tensor  # [1, L, D] empty-prompt embedding
    bank: MemoryBank
    reference_features: Callable[[int], tuple[Levels, Levels | None]]  # step -> F_gud, F_ref
    image_tokens: torch.Tensor | None = None  # [2, n, D]: unconditional and image tokens
    image_prompt: ImagePromptController | None = None


StepCallback = Callable[[int, torch.Tensor], None]  # (step, x0 estimate)


class DiffEditorSampler:
    """Runs one edit from an initial latent to z_0; see the module docstring for symbols."""

    def __init__(
        self,
        unet,
        scheduler,
        extractor: FeatureExtractor,
        controller: BankController,
        settings: TaskSettings,
        costs: Costs,
    ) -> None:
        self.unet = unet
        self.alphas = scheduler.alphas_cumprod.double().tolist()
        self.final_alpha = float(scheduler.final_alpha_cumprod)
        self.extractor = extractor
        self.controller = controller
        self.settings = settings
        self.costs = costs

    def alpha(self, t: int | None) -> float:
        """a_t; None stands for the clean level z_0."""
        return self.final_alpha if t is None else self.alphas[t]

    def sample(
        self,
        cond: Conditioning,
        plan: EditPlan,
        grid: tuple[int, int],
        generator: torch.Generator,
        on_step: StepCallback | None = None,
    ) -> torch.Tensor:
        settings, schedule = self.settings, self.settings.schedule
        steps = len(cond.timesteps)
        z = plan.initial_latent(cond.latents[0])  # z_T of every prepared image -> start
        for i, t in enumerate(cond.timesteps):
            j = schedule.table_step(i, steps)
            t_prev = cond.timesteps[i + 1] if i + 1 < steps else None
            a_t, a_prev = self.alpha(t), self.alpha(t_prev)
            guided = settings.guidance_scale > 0 and schedule.is_guided(j)
            sde = schedule.in_sde(j)
            eta_in, eta_out = (settings.eta_in, settings.eta_out) if sde else (0.0, 0.0)
            passes = schedule.passes(j) if settings.time_travel else 1
            for p in range(passes):
                eps = self.guided_noise(z, t, i, j, cond, plan)
                eps_g = eps
                if guided:
                    gradients = self.energy_gradients(z, t, i, cond, plan, grid)
                    eps_g = eps + self.guidance(*gradients, plan)
                noise = None
                if max(eta_in, eta_out) > 0:
                    noise = torch.randn(
                        z.shape, generator=generator, device=z.device, dtype=z.dtype
                    )
                z_prev = regional_sde_step(
                    z, eps, eps_g, a_t, a_prev, eta_in, eta_out, plan.sde_mask.to(z.dtype), noise
                )
                if p + 1 < passes:
                    z = self.travel_back(z_prev, t_prev, t, cond, generator)
            if on_step is not None:
                x0 = (z - math.sqrt(1 - a_t) * eps_g) / math.sqrt(a_t)
                on_step(i, x0)
            z = z_prev
        return z

    def guided_noise(
        self, z: torch.Tensor, t: int, i: int, j: int, cond: Conditioning, plan: EditPlan
    ) -> torch.Tensor:
        """Classifier-free guidance over [uncond, text], with the memory bank and the image
        prompt injected in their step windows. At a scale of 1 the guided prediction is the
        text one alone, so the unconditional half is not run."""
        settings = self.settings
        classifier_free = settings.cfg_scale != 1.0
        batch = torch.cat([z, z]) if classifier_free else z
        text = torch.cat([cond.uncond, cond.text]) if classifier_free else cond.text
        image_tokens = cond.image_tokens
        if image_tokens is not None and not classifier_free:
            image_tokens = image_tokens[1:]  # the image's tokens without the unconditional ones
        with ExitStack() as active:
            if settings.bank_active(j) and i in cond.bank.steps:
                active.enter_context(
                    self.controller.injecting(cond.bank, i, settings.bank_mode, plan.token_masks)
                )
            if image_tokens is not None and settings.ip_active(j):
                active.enter_context(cond.image_prompt.active(image_tokens, settings.ip_scale))
            out = self.unet(batch, t, encoder_hidden_states=text).sample
        if not classifier_free:
            return out
        eps_uncond, eps_text = out.chunk(2)
        return eps_uncond + settings.cfg_scale * (eps_text - eps_uncond)

    def guidance(self, edit: torch.Tensor, content: torch.Tensor, plan: EditPlan) -> torch.Tensor:
        """lambda S (m_grad dE_edit/dz + (1 - m_grad) dE_content/dz): regional score-based
        guidance (paper Eq. 8), or both gradients everywhere for the global ablation."""
        if self.settings.regional_guidance:
            mask = plan.grad_mask.to(edit.dtype)
            g = self.settings.guidance_scale * (mask * edit + (1 - mask) * content)
        else:
            g = self.settings.guidance_scale * (edit + content)
        return torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)

    def energy_gradients(
        self,
        z: torch.Tensor,
        t: int,
        i: int,
        cond: Conditioning,
        plan: EditPlan,
        grid: tuple[int, int],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """dE_edit/dz and dE_content/dz (zeros for an energy the task does not have). The two
        autograd.grad calls share one early-exit forward pass."""
        with torch.enable_grad():
            latent = z.detach().requires_grad_(True)
            generated = to_grid(self.extractor(latent, t, cond.text), grid)
            e_edit, e_content = plan.energy(generated, *cond.reference_features(i))
            grads = []
            for energy, keep in ((e_edit, True), (e_content, False)):
                if energy.requires_grad:
                    (g,) = torch.autograd.grad(energy, latent, retain_graph=keep)
                    self.costs.unet_backward += 1
                    self.costs.unet_work += BACKWARD_WORK * latent.shape[0]
                else:
                    g = torch.zeros_like(latent)
                grads.append(g.detach())
        return grads[0], grads[1]

    def travel_back(
        self,
        z_prev: torch.Tensor,
        t_prev: int | None,
        t: int,
        cond: Conditioning,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Time travel: bring z_prev back to level t for another pass (ALGORITHM.md §4.7)."""
        a_prev, a_t = self.alpha(t_prev), self.alpha(t)
        if self.settings.renoise is Renoise.RANDOM:
            noise = torch.randn(
                z_prev.shape, generator=generator, device=z_prev.device, dtype=z_prev.dtype
            )
            return math.sqrt(a_t / a_prev) * z_prev + math.sqrt(1 - a_t / a_prev) * noise
        level = t_prev if t_prev is not None else 0
        eps = self.unet(z_prev, level, encoder_hidden_states=cond.text).sample
        return renoise(z_prev, eps, a_prev, a_t)
