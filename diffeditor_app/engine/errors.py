"""Errors the engine raises on purpose. Each message is one sentence a user can act on."""


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
