"""One entry point for every selection method: a request in, a `SelectionResult` out.

`choose_method` settles AUTO (SAM when its weights are loaded, else GrabCut for a box and
the wand for clicks); `METHODS` maps each method to the function that runs it, so the
CLI, the app's worker and the benchmark all go through the same checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from diffeditor_app.engine.errors import InvalidInput, ModelUnavailable
from diffeditor_app.engine.selection.grabcut import GrabCutSettings, grabcut
from diffeditor_app.engine.selection.prompts import (
    Method,
    SelectionPrompt,
    SelectionResult,
    check_rgb,
)
from diffeditor_app.engine.selection.sam import SamSegmenter
from diffeditor_app.engine.selection.wand import WandSettings, wand_clicks


@dataclass(frozen=True, eq=False)
class SelectionRequest:
    """Everything one selection needs; the image is not copied, so do not change it."""

    rgb: np.ndarray  # H x W x 3 uint8
    prompt: SelectionPrompt
    method: Method = Method.AUTO
    wand: WandSettings = field(default_factory=WandSettings)
    grabcut: GrabCutSettings = field(default_factory=GrabCutSettings)

    def validate(self) -> None:
        check_rgb(self.rgb)
        self.prompt.validate(self.rgb.shape[:2])
        self.wand.validate()
        self.grabcut.validate()


def choose_method(prompt: SelectionPrompt, method: Method, sam_ready: bool) -> Method:
    """AUTO -> SAM when it is ready, else GrabCut for a box and the wand for clicks."""
    if method is not Method.AUTO:
        return method
    if sam_ready:
        return Method.SAM
    return Method.GRABCUT if prompt.boxes else Method.WAND


Runner = Callable[[SelectionRequest, SamSegmenter | None, Callable[[], None] | None], np.ndarray]


def _run_wand(request: SelectionRequest, _sam, _interrupt) -> np.ndarray:
    if request.prompt.boxes:
        raise InvalidInput("The magic wand takes clicks, not boxes; use grabcut or sam for a box.")
    return wand_clicks(request.rgb, request.prompt.clicks, request.wand)


def _run_grabcut(request: SelectionRequest, _sam, interrupt) -> np.ndarray:
    if len(request.prompt.boxes) != 1:
        raise InvalidInput(
            "GrabCut needs exactly one box around the object (clicks only refine it)."
        )
    prompt = request.prompt
    return grabcut(request.rgb, prompt.boxes[0], prompt.clicks, request.grabcut, interrupt)


def _run_sam(request: SelectionRequest, sam: SamSegmenter | None, interrupt) -> np.ndarray:
    if sam is None:
        raise ModelUnavailable("Segment Anything is not loaded; set up its weights first.")
    return sam.segment(request.rgb, request.prompt, interrupt)


METHODS: dict[Method, Runner] = {
    Method.WAND: _run_wand,
    Method.GRABCUT: _run_grabcut,
    Method.SAM: _run_sam,
}


def select(
    request: SelectionRequest,
    sam: SamSegmenter | None = None,
    interrupt: Callable[[], None] | None = None,
) -> SelectionResult:
    """Run the request's method (AUTO resolved by whether `sam` is given)."""
    request.validate()
    method = choose_method(request.prompt, request.method, sam is not None)
    start = time.perf_counter()
    mask = METHODS[method](request, sam, interrupt)
    return SelectionResult(mask, method, time.perf_counter() - start)
