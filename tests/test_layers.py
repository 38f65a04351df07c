"""Imports go one way: ui > document | runtime > server > engine; no Qt in the engine or the
server, no torch in ui; only the server's Serve application (app.py, serve.py) imports Ray.

The contracts live in pyproject.toml and are checked by import-linter, which sees relative
and function-level imports. What it cannot see is checked here: imports by name at run time
(`importlib.import_module("...")`, `__import__("...")`), and submodules of an external
package (document and runtime may use QtCore, never QtWidgets).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "diffeditor_app"
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
DYNAMIC_IMPORTERS = {"import_module", "__import__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, package: str = "") -> set[str]:
    """Every module `path` imports: statements anywhere in the file, relative ones resolved
    against `package`, and string literals handed to importlib.import_module / __import__."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else None
            called = called or (node.func.id if isinstance(node.func, ast.Name) else None)
            first = node.args[0] if node.args else None
            if called in DYNAMIC_IMPORTERS and isinstance(first, ast.Constant):
                names.add(str(first.value))
    return names


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downward(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no files in {layer}"
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path, package_of(path)))
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert offenders == []


RAY = ("ray", "fastapi", "starlette", "uvicorn")
SERVE_APPLICATION = {"app.py", "serve.py", "door.py"}  # the only modules the extra is for
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
    sample.write_text(
        "import torch\n"
        "from PySide6.QtWidgets import QLabel\n"
        "from ..ui import window\n"
        "def later():\n"
        "    import importlib\n"
        "    importlib.import_module('PySide6.QtCore')\n"
        "    __import__('diffusers')\n"
    )
    found = imported_modules(sample, "diffeditor_app.engine")
    assert {"torch", "PySide6.QtWidgets", "diffeditor_app.ui.window"} <= found
    assert {"PySide6.QtCore", "diffusers", "importlib"} <= found


def test_import_contracts_hold():
    """pyproject.toml's import-linter contracts: layers, no cycles inside the engine."""
    command = shutil.which("lint-imports")
    assert command, "import-linter is part of the dev install"
    run = subprocess.run([command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
