"""Every limit a user meets, in one home.

The app's fields, the CLI's parsers, the project reader, the server's wire checks and the
engine's validation all read these numbers, so a value that one front end takes is never
refused by another (a project saved with 500 steps opens, as the CLI runs 500 steps).
A value is checked once per process: where its request is built (`EditRequest.checked`),
and again only where it crosses into another process (the server decoding its wire JSON).
"""

from __future__ import annotations

from diffeditor_app.engine.errors import InvalidInput

# One cap for every front end: the scheduler's 1000 training timesteps, since a DDIM run of
# more steps than timesteps would repeat timesteps. A slower edit is the user's choice (the
# app's default stays the method's 50); a tighter cap in one front end only refused there
# what the engine carries out (the app once stopped at 200 while the CLI took 1000).
MAX_STEPS = 1000
STEPS_RANGE = (1, MAX_STEPS)
DEFAULT_STEPS = 50  # the length of the method's step table (ALGORITHM.md §9)
DEFAULT_SEED = 42  # the seed of an edit nobody chose one for
SEED_RANGE = (0, 2**31 - 1)  # seeds a user types or draws; torch overflows far past them
MIN_SCALE = 0.1  # a resize below this leaves less than a feature cell of most objects
MAX_SCALE = 4.0  # a resize above this is a different picture, not an edit
SCALE_RANGE = (MIN_SCALE, MAX_SCALE)
RESOLUTION_LIMITS = (64, 2048)  # the widest working range a model may declare
ETA_RANGE = (0.0, 1.0)  # a regional SDE's eta: 0 is DDIM, 1 is DDPM's full noise
GUIDANCE_RANGE = (0.0, 10.0)  # guidance strength S / 1000 offered; the method's are 0.5..4
IP_SCALE_RANGE = (0.0, 2.0)  # past 2 the image-prompt branch drowns the text prompt

OPTION_RANGES: dict[str, tuple[float, float]] = {  # the Advanced options: (lowest, highest)
    "guidance_strength": GUIDANCE_RANGE,
    "eta_in": ETA_RANGE,
    "ip_scale": IP_SCALE_RANGE,
    "steps": STEPS_RANGE,
    "resolution": (0, RESOLUTION_LIMITS[1]),  # 0: the model's; the model narrows the rest
}


def check_steps(steps: int) -> None:
    """InvalidInput unless `steps` lies in STEPS_RANGE."""
    if not STEPS_RANGE[0] <= steps <= STEPS_RANGE[1]:
        raise InvalidInput(
            f"steps must be between {STEPS_RANGE[0]} and {STEPS_RANGE[1]}, got {steps}."
        )


def check_seed(seed: int) -> None:
    """InvalidInput unless `seed` lies in SEED_RANGE."""
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise InvalidInput(
            f"The seed must be between {SEED_RANGE[0]} and {SEED_RANGE[1]}, got {seed}."
        )
