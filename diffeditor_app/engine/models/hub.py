"""The Hugging Face hub, under the offline rules (docs/ARCHITECTURE.md, Offline first).

The cache is always tried first; a download happens only when allowed and online, with
every request's timeouts bounded, so an offline machine fails within seconds with one
sentence that says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

from diffeditor_app.engine.errors import ModelUnavailable

HUB_SKIP = ["*.fp16.*", "*non_ema*", "safety_checker/*", "feature_extractor/*"]  # never used
ETAG_TIMEOUT_S = 5.0  # an unreachable hub must fail in seconds, not hang
HUB_CONNECT_TIMEOUT_S = 5.0  # every hub request: connecting ...
HUB_READ_TIMEOUT_S = 10.0  # ... and each wait for data; a silent endpoint fails within 30 s


def _bound_timeouts(request) -> None:
    """A request hook: fill in every timeout left open (None means "wait forever")."""
    timeout = dict(request.extensions.get("timeout") or {})
    limits = {"connect": HUB_CONNECT_TIMEOUT_S}
    for key in ("connect", "read", "write", "pool"):
        if timeout.get(key) is None:
            timeout[key] = limits.get(key, HUB_READ_TIMEOUT_S)
    request.extensions["timeout"] = timeout


def bound_hub_requests() -> None:
    """Give every hub request connect and read timeouts: the hub client has none, and some
    calls pass `timeout=None` outright, so an endpoint that accepts a connection and never
    answers would hang a download for minutes. A request hook bounds them all."""
    from huggingface_hub import get_session

    session = get_session()
    hooks = session.event_hooks
    if _bound_timeouts not in hooks.get("request", []):
        session.event_hooks = {**hooks, "request": [*hooks.get("request", []), _bound_timeouts]}


def hub_snapshot(repo_id: str, allow_download: bool, patterns: list[str]) -> Path:
    """The files of a hub repo matching `patterns`, from the cache; downloads only when
    allowed and online."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}
    how = f"run `hf download {repo_id}` on a connected machine or pass a local folder"
    if not allow_download or offline:
        reason = "offline mode is on" if offline else "downloading is off"
        raise ModelUnavailable(
            f"The model '{repo_id}' is not in the Hugging Face cache and {reason}: {how}."
        )
    bound_hub_requests()
    try:
        folder = snapshot_download(
            repo_id, allow_patterns=patterns, ignore_patterns=HUB_SKIP, etag_timeout=ETAG_TIMEOUT_S
        )
    except Exception as error:  # network errors come in many types; all mean the same here
        raise ModelUnavailable(
            f"Could not download '{repo_id}' ({type(error).__name__}): the hub is unreachable "
            f"or the repo does not exist; {how}."
        ) from None
    return Path(folder)


def hub_file(repo_id: str, filename: str, allow_download: bool) -> Path:
    """One file of a hub repo through the cache; same offline rules as `hub_snapshot`."""
    folder = hub_snapshot(repo_id, allow_download, patterns=[filename])
    path = folder / filename
    if not path.is_file():
        raise ModelUnavailable(f"The hub repo '{repo_id}' has no file '{filename}'.")
    return path
