"""Imports go one way: ui > document > runtime > server > engine; no Qt in the engine, no
torch in ui; only the server's Serve application (app.py, serve.py) imports Ray."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "diffeditor_app"
QT = ("PySide6", "qasync", "shiboken6")
FORBIDDEN = {
    "engine": (
        *QT,
        "diffeditor_app.runtime",
        "diffeditor_app.document",
        "diffeditor_app.ui",
        "diffeditor_app.server",
    ),
    "server": (*QT, "diffeditor_app.runtime", "diffeditor_app.document", "diffeditor_app.ui"),
    "runtime": ("diffeditor_app.document", "diffeditor_app.ui", "PySide6.QtWidgets"),
    "document": ("diffeditor_app.ui", "diffeditor_app.runtime", "torch", "PySide6.QtWidgets"),
    "ui": ("torch", "diffusers", "transformers"),
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downward(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no files in {layer}"
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert offenders == []


RAY = ("ray", "fastapi", "starlette", "uvicorn")
SERVE_APPLICATION = {"app.py", "serve.py"}  # the only modules the `serve` extra is for
SERVE_COMMAND = ("cli.py", "diffeditor_app.server.serve")  # imported when `serve` runs


def test_clients_of_the_server_never_import_ray():
    """The desktop install has no Ray: the app, the CLI and the server's client modules
    must import without it."""
    files = [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if not (path.parent.name == "server" and path.name in SERVE_APPLICATION)
    ]
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if (
            any(name == bad or name.startswith(bad + ".") for bad in RAY)
            or name in {f"diffeditor_app.server.{m[:-3]}" for m in SERVE_APPLICATION}
        )
        and (path.name, name) != SERVE_COMMAND
    ]
    assert offenders == []


def test_the_checker_sees_violations(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("import torch\nfrom PySide6.QtWidgets import QLabel\n")
    assert imported_modules(sample) == {"torch", "PySide6.QtWidgets"}
