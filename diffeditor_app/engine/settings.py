"""Every number of the method (ALGORITHM.md §9) as a named, validated field.

The step windows are written for the 50-step table of the reference schedule; with N steps,
step i behaves as table step floor(i * 50 / N) (`Schedule.table_step`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from diffeditor_app.engine.errors import InvalidInput

NON_NEGATIVE = (  # weights and scales that may be switched off with 0 but never go below
    "cfg_scale",
    "guidance_strength",
    "guidance_lambda",
    "w_edit",
    "w_content",
    "w_contrast",
    "w_inpaint",
    "ip_scale",
)


class Task(str, enum.Enum):
    MOVE = "move"
    DRAG = "drag"
    APPEARANCE = "appearance"
    PASTE = "paste"
    FACE = "face"


class BankMode(str, enum.Enum):
    """How the memory bank enters the self-attention of the decoder (ALGORITHM.md §7.5)."""

    REPLACE = "replace"  # stored K/V replace the current ones (move)
    CONCAT = "concat"  # stored K/V are appended to the current ones (drag)
    MASKED = "masked"  # base K/V outside the base object + reference K/V inside its object
    OFF = "off"


class Renoise(str, enum.Enum):
    """How time travel brings z_prev back to t (ALGORITHM.md §4.7)."""

    DDIM = "ddim"  # one deterministic DDIM inversion step (the default)
    RANDOM = "random"  # fresh Gaussian noise (an ablation)


@dataclass(frozen=True)
class Schedule:
    """Which steps do what, on the 50-step reference table."""

    table_steps: int = 50  # length of the table the windows below refer to
    guide_all_until: int = 10  # every step i < 10 is guided ...
    guide_even_until: int = 30  # ... then only even i < 30
    sde_after: int = 10  # regional SDE for sde_after < i < sde_before
    sde_before: int = 20
    time_travel_steps: tuple[int, ...] = (22, 24, 26, 28)  # steps repeated U times
    time_travel_passes: int = 3  # U: passes per time-travel step

    def table_step(self, i: int, steps: int) -> int:
        """Step i of an N-step run behaves as this step of the table (ALGORITHM.md §4.2)."""
        return (i * self.table_steps) // steps

    def is_guided(self, j: int) -> bool:
        return j < self.guide_all_until or (j < self.guide_even_until and j % 2 == 0)

    def in_sde(self, j: int) -> bool:
        return self.sde_after < j < self.sde_before

    def passes(self, j: int) -> int:
        return self.time_travel_passes if j in self.time_travel_steps else 1

    def validate(self) -> None:
        if self.table_steps < 1:
            raise InvalidInput("schedule.table_steps must be at least 1.")
        if self.time_travel_passes < 1:
            raise InvalidInput("schedule.time_travel_passes must be at least 1.")

    def describe(self, steps: int) -> dict[str, Any]:
        """The concrete step lists of an N-step run, for reports and `--json`."""
        table = [self.table_step(i, steps) for i in range(steps)]
        return {
            "steps": steps,
            "guided": [i for i, j in enumerate(table) if self.is_guided(j)],
            "sde": [i for i, j in enumerate(table) if self.in_sde(j)],
            "time_travel": {i: self.passes(j) for i, j in enumerate(table) if self.passes(j) > 1},
        }


@dataclass(frozen=True)
class TaskSettings:
    """The tuned numbers of one task. `S` is guidance_strength x 1000 (ALGORITHM.md §4.5)."""

    cfg_scale: float  # classifier-free guidance scale
    guidance_strength: float  # S / 1000; 0 turns guidance and time travel off
    guidance_lambda: float  # lambda of eps_g = eps + lambda * S * grad E
    w_edit: float  # weight of the editing energy
    w_content: float  # weight of the content-consistency energy
    w_contrast: float = 0.0  # move: push the vacated area away from the object
    w_inpaint: float = 0.0  # move: fill the vacated area like the fill hint; drag: vacate handles
    eta_in: float = 0.4  # regional SDE: eta inside the SDE mask
    eta_out: float = 0.0  # regional SDE: eta outside it (the paper's text says 0.2)
    bank_mode: BankMode = BankMode.OFF
    bank_from: int = 0  # memory bank active for bank_from <= table step ...
    bank_until: int = 50  # ... < bank_until
    renoise: Renoise = Renoise.DDIM
    regional_guidance: bool = True  # False: both energy gradients act everywhere (an ablation)
    ip_scale: float = 0.1  # gamma: weight of the decoupled image-prompt branch
    ip_from: int = 10  # image prompt active for ip_from <= table step ...
    ip_until: int = 20  # ... < ip_until (never in inversion nor in guidance features)
    schedule: Schedule = Schedule()

    @property
    def guidance_scale(self) -> float:
        """lambda * S, the factor in front of the energy gradient."""
        return self.guidance_lambda * self.guidance_strength * 1000.0

    @property
    def time_travel(self) -> bool:
        return self.guidance_strength > 0

    def bank_active(self, j: int) -> bool:
        return self.bank_mode is not BankMode.OFF and self.bank_from <= j < self.bank_until

    def ip_active(self, j: int) -> bool:
        return self.ip_scale > 0 and self.ip_from <= j < self.ip_until

    def bank_steps(self, steps: int) -> frozenset[int]:
        """Sampling steps of an N-step run that read the memory bank (prepare stores these)."""
        return frozenset(
            i for i in range(steps) if self.bank_active(self.schedule.table_step(i, steps))
        )

    def validate(self) -> None:
        for name in NON_NEGATIVE:
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidInput(f"{name} must be 0 or more, got {value}.")
        for name in ("eta_in", "eta_out"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidInput(f"{name} must be between 0 and 1, got {value}.")
        self.schedule.validate()

    def with_overrides(self, overrides: dict[str, Any]) -> TaskSettings:
        """A copy with some fields changed; unknown names are an error, not ignored."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InvalidInput(f"Unknown task setting(s): {', '.join(unknown)}.")
        converted = dict(overrides)
        if "bank_mode" in converted:
            converted["bank_mode"] = BankMode(converted["bank_mode"])
        if "renoise" in converted:
            converted["renoise"] = Renoise(converted["renoise"])
        if isinstance(converted.get("schedule"), dict):
            converted["schedule"] = replace(self.schedule, **converted["schedule"])
        return replace(self, **converted)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULTS: dict[Task, TaskSettings] = {
    Task.MOVE: TaskSettings(
        cfg_scale=4.0,
        guidance_strength=0.5,
        guidance_lambda=0.08,
        w_edit=4.0,
        w_content=6.0,
        w_contrast=0.2,
        w_inpaint=0.8,
        bank_mode=BankMode.REPLACE,
        bank_from=5,
    ),
    Task.DRAG: TaskSettings(
        cfg_scale=4.0,
        guidance_strength=2.0,
        guidance_lambda=0.04,
        w_edit=4.0,
        w_content=6.0,
        w_inpaint=0.2,
        bank_mode=BankMode.CONCAT,
        bank_from=5,
    ),
    Task.APPEARANCE: TaskSettings(
        cfg_scale=5.0,
        guidance_strength=2.0,
        guidance_lambda=0.04,
        w_edit=3.5,
        w_content=5.0,
        bank_mode=BankMode.MASKED,
        bank_until=36,  # steps 0..35
    ),
    Task.PASTE: TaskSettings(
        cfg_scale=4.0,
        guidance_strength=1.5,
        guidance_lambda=0.04,
        w_edit=4.0,
        w_content=6.0,
        bank_mode=BankMode.MASKED,
        bank_until=36,
    ),
    # landmark guidance: drag's numbers, the edit energy alone (no content, no inpaint term)
    # and the reference code's image-prompt scale for faces
    Task.FACE: TaskSettings(
        cfg_scale=4.0,
        guidance_strength=2.0,
        guidance_lambda=0.04,
        w_edit=4.0,
        w_content=0.0,
        w_inpaint=0.0,
        bank_mode=BankMode.CONCAT,
        bank_from=5,
        ip_scale=0.05,
    ),
}
