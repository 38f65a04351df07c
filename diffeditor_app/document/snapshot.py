"""The request snapshot: everything an edit needs, copied out of the live session, so the
worker never reads the document while the user keeps working."""

from __future__ import annotations

from diffeditor_app.document.session import EditSession, MaskName, SessionState
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.requests import (
    AppearanceEdit,
    DragEdit,
    EditRequest,
    MoveEdit,
    PasteEdit,
)
from diffeditor_app.engine.settings import Task


def task_overrides(state: SessionState) -> dict[str, float]:
    """The Advanced panel's changes, applied by the engine on top of the loaded model's own
    defaults for the task."""
    options = state.options
    overrides = {}
    if options.guidance_strength is not None:
        overrides["guidance_strength"] = options.guidance_strength
    if options.flexibility is not None:
        overrides["eta_in"] = options.flexibility
    return overrides


def build_request(session: EditSession, default_resolution: int | None = None) -> EditRequest:
    """A validated-on-use request for the session's task, with copies of every array. The
    working resolution is the session's own choice, else `default_resolution` (the user's
    preference), else None: the model's default."""
    state = session.state
    common = dict(
        image=state.current,
        prompt=state.prompt,
        seed=state.seed,
        steps=state.options.steps,
        resolution=state.options.resolution or default_resolution,
        overrides=task_overrides(state),
        ip_scale=state.options.ip_scale,
    )
    if state.task is Task.MOVE:
        fill = state.masks[MaskName.FILL]
        return MoveEdit(
            mask=state.masks[MaskName.OBJECT].copy(),
            offset=(state.box.dx, state.box.dy),
            scale=state.box.scale,
            fill_hint=fill.copy() if fill.any() else None,
            **common,
        )
    if state.task is Task.DRAG:
        pairs = tuple((p.handle, p.target) for p in state.pairs if p.target is not None)
        return DragEdit(mask=state.masks[MaskName.REGION].copy(), pairs=pairs, **common)
    if state.reference is None:
        raise InvalidInput("Load a reference image first.")
    reference = dict(
        reference=state.reference,
        reference_mask=state.masks[MaskName.REFERENCE].copy(),
        reference_prompt=state.reference_prompt,
    )
    if state.task is Task.APPEARANCE:
        return AppearanceEdit(mask=state.masks[MaskName.OBJECT].copy(), **reference, **common)
    if state.paste.at is None:
        raise InvalidInput("Place the reference object on the image first.")
    return PasteEdit(at=tuple(state.paste.at), scale=state.paste.scale, **reference, **common)
