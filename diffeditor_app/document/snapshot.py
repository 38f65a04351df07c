"""The request snapshot: everything an edit needs, copied out of the live session, so the
worker never reads the document while the user keeps working."""

from __future__ import annotations

from diffeditor_app.document.session import TASK_MASK, EditSession, MaskName, SessionState
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.requests import EditRequest, request_for
from diffeditor_app.engine.settings import Quality, Task


def task_overrides(state: SessionState) -> dict[str, float]:
    """The Advanced panel's changes, applied by the engine on top of the loaded model's own
    defaults for the task."""
    options = state.options
    overrides = {}
    if options.guidance_strength is not None:
        overrides["guidance_strength"] = options.guidance_strength
    if options.flexibility is not None:
        overrides["eta_in"] = options.flexibility
    if options.ip_scale is not None:
        overrides["ip_scale"] = options.ip_scale
    return overrides


def build_request(
    session: EditSession,
    default_resolution: int | None = None,
    default_quality: Quality = Quality.FULL,
) -> EditRequest:
    """The complete request for the session's task, with copies of every array, validated
    here once: the worker and the engine get it as it is. The working resolution is the
    session's own choice, else `default_resolution` (the user's preference), else None: the
    model's default; the quality likewise falls back on `default_quality`."""
    request = _request(session, default_resolution, default_quality)
    request.validate()
    return request


def _request(
    session: EditSession, default_resolution: int | None, default_quality: Quality
) -> EditRequest:
    state = session.state
    common = dict(
        image=state.current,
        prompt=state.prompt,
        seed=state.seed,
        steps=state.options.steps,
        quality=state.options.quality or default_quality,
        resolution=state.options.resolution or default_resolution,
        overrides=task_overrides(state),
    )
    task = state.task
    mask = state.masks[TASK_MASK[task]].copy()
    if task is Task.MOVE:
        fill = state.masks[MaskName.FILL]
        fill_hint = fill.copy() if fill.any() else None
        return request_for(
            task,
            mask=mask,
            offset=(state.box.dx, state.box.dy),
            scale=state.box.scale,
            fill_hint=fill_hint,
            **common,
        )
    if task is Task.DRAG:
        pairs = tuple((p.handle, p.target) for p in state.pairs if p.target is not None)
        return request_for(task, mask=mask, pairs=pairs, **common)
    if state.reference is None:
        raise InvalidInput("Load a reference image first.")
    if task is Task.PASTE and state.paste.at is None:
        raise InvalidInput("Place the reference object on the image first.")
    return request_for(
        task,
        mask=mask,
        reference=state.reference,
        reference_mask=state.masks[MaskName.REFERENCE].copy(),
        reference_prompt=state.reference_prompt,
        at=state.paste.at,
        scale=state.paste.scale,
        **common,
    )
