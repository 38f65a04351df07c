"""Errors the engine raises on purpose. Each message is one sentence a user can act on."""

UNEXPECTED_MAX_CHARS = 300  # of an unexpected error's first line shown to the user


class EngineError(Exception):
    """Base of every deliberate engine error."""


class InvalidInput(EngineError, ValueError):
    """The request cannot be carried out as given (bad file, empty mask, point outside...)."""


class MissingExtra(InvalidInput):
    """An optional part of the app (a pip extra) is not installed; the sentence names the
    command that installs it. Bad input in the CLI's terms (exit 2): nothing ran."""


class ModelUnavailable(EngineError):
    """Weights are missing, not cached while offline, or not a Stable Diffusion 1.x model."""


class EditCancelled(EngineError):
    """Raised from a step callback to stop an edit; the edit leaves nothing behind."""


class OutOfMemory(EngineError):
    """The device ran out of memory; the editor has released what it could."""


QUOTE_MAX_CHARS = 300  # of another library's message quoted in one of ours


def quoted(name: object) -> str:
    """A file name (or other user text) inside one of our sentences: in single quotes, with
    what cannot be printed (a newline in a file name) escaped, so the sentence stays one
    line and says exactly which file."""
    text = str(name)
    shown = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )
    return f"'{shown}'"


def first_line(error: BaseException, fallback: str | None = None) -> str:
    """The first sentence of an error's message, without its full stop and shortened to
    QUOTE_MAX_CHARS, to quote inside one of our sentences; `fallback` (else the error's type
    name) when the message says nothing."""
    text = str(error).strip()
    line = text.splitlines()[0].split(". ")[0].strip().rstrip(".") if text else ""
    if len(line) > QUOTE_MAX_CHARS:
        line = line[: QUOTE_MAX_CHARS - 1] + "…"
    return line or (type(error).__name__ if fallback is None else fallback)


def error_sentence(error: BaseException) -> str:
    """What the user reads: an engine error's own sentence on one line, or for anything else
    'Unexpected error: Type: first line of the message'."""
    text = str(error).strip()
    if isinstance(error, EngineError):
        return " ".join(text.split()) or f"The edit failed ({type(error).__name__})."
    first = first_line(error, fallback="")
    name = type(error).__name__
    return f"Unexpected error: {name}: {first}" if first else f"Unexpected error: {name}."
