"""The import rules have one home: pyproject.toml's [tool.importlinter] contracts, which
`lint-imports` checks on every import statement (relative ones and those inside functions
alike). This file adds only what import-linter cannot see:

- imports by name at run time (`importlib.import_module("...")`, `__import__("...")`): each
  one is held against the same contracts, read from pyproject.toml, never restated here;
- submodules of an external package. import-linter's graph knows an external package only by
  its top name, and it refuses "PySide6.QtWidgets" as a forbidden module ("subpackages of
  external packages are not valid"), so the one rule about Qt's own modules (QT_MODULES:
  the runtime and the document never use widgets) is the only rule written here.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "diffeditor_app"
DYNAMIC_IMPORTERS = {"import_module", "__import__"}
# Qt modules a layer may not use (not expressible in import-linter, see above). The document
# still holds QUndoStack and QUndoCommand, which Qt 6 keeps in QtGui.
QT_MODULES = {
    "runtime": ("PySide6.QtWidgets", "PySide6.QtGui"),
    "document": ("PySide6.QtWidgets",),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(path: Path, package: str = "", dynamic_only: bool = False) -> set[str]:
    """The modules `path` imports: string literals handed to importlib.import_module or
    __import__ and, unless `dynamic_only`, its import statements (anywhere in the file,
    relative ones resolved against `package`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import) and not dynamic_only:
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not dynamic_only:
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


def within(name: str, expression: str) -> bool:
    """`name` is the module an import-linter expression names, or inside it ("*" stands for
    one part of a dotted name, "**" for one or more)."""
    parts = [
        {"*": r"[^.]+", "**": r".+"}.get(part, re.escape(part)) for part in expression.split(".")
    ]
    return re.fullmatch(r"\.".join(parts) + r"(\..+)?", name) is not None


@dataclass(frozen=True)
class Contracts:
    """pyproject.toml's import-linter contracts, as the rules one import must keep."""

    contracts: tuple[dict, ...]

    @classmethod
    def read(cls, pyproject: Path = ROOT / "pyproject.toml") -> Contracts:
        config = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]
        return cls(tuple(config["contracts"]))

    def broken_by(self, importer: str, imported: str) -> list[str]:
        """The names of the contracts that `importer` importing `imported` breaks (the
        layers and forbidden kinds; an acyclic_siblings contract is a whole-graph check)."""
        return [
            contract["name"]
            for contract in self.contracts
            if (contract["type"] == "forbidden" and forbids(contract, importer, imported))
            or (contract["type"] == "layers" and goes_up(contract, importer, imported))
        ]


def forbids(contract: dict, importer: str, imported: str) -> bool:
    ignored = (line.split("->") for line in contract.get("ignore_imports", []))
    return (
        any(within(importer, source) for source in contract["source_modules"])
        and any(within(imported, banned) for banned in contract["forbidden_modules"])
        and not any(within(importer, a.strip()) and within(imported, b.strip()) for a, b in ignored)
    )


def layer_of(contract: dict, container: str, name: str) -> tuple[int, str] | None:
    """Which layer of `contract` (its index from the top, and the sibling) holds `name`."""
    prefix = f"{container}." if container else ""
    for index, layer in enumerate(contract["layers"]):
        for sibling in (part.strip() for part in layer.split("|")):
            if within(name, prefix + sibling):
                return index, sibling
    return None


def goes_up(contract: dict, importer: str, imported: str) -> bool:
    """A layer imports a layer above it, or a sibling it must stay independent of."""
    for container in contract.get("containers", [""]):
        a, b = layer_of(contract, container, importer), layer_of(contract, container, imported)
        if a and b and (b[0] < a[0] or (b[0] == a[0] and b[1] != a[1])):
            return True
    return False


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_imports_by_name_keep_the_contracts():
    contracts = Contracts.read()
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name} by name: {broken}"
        for path in package_files()
        for name in sorted(imported_modules(path, dynamic_only=True))
        if (broken := contracts.broken_by(module_name(path), name))
    ]
    assert offenders == []


@pytest.mark.parametrize("layer", sorted(QT_MODULES))
def test_a_layer_uses_only_its_qt_modules(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no files in {layer}"
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path, package_of(path)))
        if any(within(name, banned) for banned in QT_MODULES[layer])
    ]
    assert offenders == []


def test_the_checkers_see_violations(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text(
        "from PySide6.QtWidgets import QLabel\n"
        "from ..ui import window\n"
        "def later():\n"
        "    import importlib\n"
        "    importlib.import_module('diffeditor_app.ui.window')\n"
        "    __import__('ray')\n"
    )
    found = imported_modules(sample, "diffeditor_app.engine")
    assert {"PySide6.QtWidgets", "diffeditor_app.ui.window", "importlib", "ray"} <= found
    assert imported_modules(sample, dynamic_only=True) == {"diffeditor_app.ui.window", "ray"}
    contracts = Contracts.read()
    assert contracts.broken_by("diffeditor_app.engine.editor", "diffeditor_app.ui.window")
    assert contracts.broken_by("diffeditor_app.engine.editor", "diffeditor_app.engine.selection")
    assert contracts.broken_by("diffeditor_app.runtime.worker", "diffeditor_app.document")
    assert contracts.broken_by("diffeditor_app.document.session", "diffeditor_app.server.client")
    assert contracts.broken_by("diffeditor_app.ui.window", "ray.serve")
    assert contracts.broken_by("diffeditor_app.ui.window", "torch")
    assert not contracts.broken_by("diffeditor_app.cli", "diffeditor_app.server.serve")
    assert not contracts.broken_by("diffeditor_app.server.app", "ray.serve")
    assert not contracts.broken_by("diffeditor_app.ui.window", "diffeditor_app.engine.errors")
    assert not contracts.broken_by("diffeditor_app.engine.selection", "diffeditor_app.engine")


def test_import_contracts_hold():
    """pyproject.toml's contracts, checked by the lint-imports of this interpreter's
    environment (not whichever one PATH finds first)."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.fail(f"no lint-imports next to {sys.executable}: install the dev extra (.[dev])")
    run = subprocess.run([command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
