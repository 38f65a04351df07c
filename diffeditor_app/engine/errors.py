"""Errors the engine raises on purpose. Each message is one sentence a user can act on."""

UNEXPECTED_MAX_CHARS = 300  # of an unexpected error's first line shown to the user


class EngineError(Exception):
    """Base of every deliberate engine error."""


class InvalidInput(EngineError, ValueError):
    """The request cannot be carried out as given (bad file, empty mask, point outside...)."""


class ModelUnavailable(EngineError):
    """Weights are missing, not cached while offline, or not a Stable Diffusion 1.x model."""


class EditCancelled(EngineError):
    """Raised from a step callback to stop an edit; the edit leaves nothing behind."""


class OutOfMemory(EngineError):
    """The device ran out of memory; the editor has released what it could."""


def error_sentence(error: BaseException) -> str:
    """What the user reads: an engine error's own sentence on one line, or for anything else
    'Unexpected error: Type: first line of the message'."""
    text = str(error).strip()
    if isinstance(error, EngineError):
        return " ".join(text.split()) or f"The edit failed ({type(error).__name__})."
    first = text.splitlines()[0].strip() if text else ""
    if len(first) > UNEXPECTED_MAX_CHARS:
        first = first[: UNEXPECTED_MAX_CHARS - 1] + "…"
    name = type(error).__name__
    return f"Unexpected error: {name}: {first}" if first else f"Unexpected error: {name}."
