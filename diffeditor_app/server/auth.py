"""The server's bearer token: from DIFFEDITOR_TOKEN, or a token file made on first start.

The token file lives in the app's platformdirs config folder and is created with mode 0600
(owner only), atomically, so two servers starting at once agree on one token.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path

import platformdirs

from diffeditor_app.engine.errors import InvalidInput

TOKEN_ENV = "DIFFEDITOR_TOKEN"  # the server's token, and what the clients send
TOKEN_FILE = "server-token"
TOKEN_BYTES = 32  # 256 random bits, URL-safe base64
TOKEN_MODE = 0o600  # owner read/write only
APP_NAME = "DiffEditor"  # the config folder the desktop app's settings use


def default_token_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / TOKEN_FILE


def server_token(path: Path | None = None, environ: dict[str, str] | None = None) -> str:
    """DIFFEDITOR_TOKEN when set, else the token file's (created on first use)."""
    environ = os.environ if environ is None else environ
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    return read_or_create_token(path or default_token_path())


def read_or_create_token(path: Path) -> str:
    """The token in `path`; a new random one written with mode 0600 when there is none. A
    file others may read (or write) is refused: its token may be known to them."""
    try:
        check_token_file(path)
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    if token:
        return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:  # O_EXCL: never replace a token another server wrote meanwhile
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, TOKEN_MODE)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(token + "\n")
    return token


def check_token_file(path: Path) -> None:
    """InvalidInput when the token file is more than its owner's (FileNotFoundError when
    there is none)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & ~TOKEN_MODE:
        raise InvalidInput(
            f"The token file '{path}' has mode {mode:04o}, so others may read it; run "
            f"'chmod 600 {path}' (or set {TOKEN_ENV}) and start again."
        )


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries `token` (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())
