"""The request snapshot: everything an edit needs, copied out of the session's state, so
the worker never reads the document while the user keeps working. A pure function of the
state (no Qt): the task's own fields come from its `DocumentTask`, the request from the
engine's `request_for`, the one builder the CLI and the server use too."""

from __future__ import annotations

from diffeditor_app.document.state import SessionState
from diffeditor_app.document.tasks import DOCUMENT_TASKS
from diffeditor_app.engine.requests import EditRequest
from diffeditor_app.engine.settings import Quality
from diffeditor_app.engine.tasks.registry import request_for

OVERRIDDEN_OPTIONS = ("guidance_strength", "eta_in", "ip_scale")  # named as in TaskSettings


def task_overrides(state: SessionState) -> dict[str, float]:
    """The Advanced panel's values, each as it was typed (a value equal to a default is
    kept), applied by the engine on top of the loaded model's own defaults for the task."""
    chosen = {name: getattr(state.options, name) for name in OVERRIDDEN_OPTIONS}
    return {name: value for name, value in chosen.items() if value is not None}


def build_request(
    state: SessionState,
    default_resolution: int | None = None,
    default_quality: Quality = Quality.FULL,
) -> EditRequest:
    """The complete request for the state's task, with copies of every array, validated
    here once: the worker and the engine get it as it is. The working resolution is the
    state's own choice, else `default_resolution` (the user's preference), else None: the
    model's default; the quality likewise falls back on `default_quality`."""
    request = request_for(
        state.task,
        image=state.current,
        prompt=state.prompt,
        seed=state.seed,
        steps=state.options.steps,
        quality=state.options.quality or default_quality,
        resolution=state.options.resolution or default_resolution,
        overrides=task_overrides(state),
        **DOCUMENT_TASKS[state.task].values(state),
    )
    return request.checked()
