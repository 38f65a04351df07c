"""The bundle's recipe, scripts, desktop entry, icons and self-test (no build here: the
build itself runs in .ci/bundle)."""

from __future__ import annotations

import ast
import configparser
import os
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "diffeditor.spec"
WEIGHTS = re.compile(r"\.(safetensors|bin|ckpt|pt|pth|onnx)\b")


def spec_text() -> str:
    return SPEC.read_text(encoding="utf-8")


def test_spec_is_python_and_names_an_existing_entry_script():
    tree = ast.parse(spec_text(), str(SPEC))
    compile(tree, str(SPEC), "exec")
    assert 'ROOT / "packaging" / "launcher.py"' in spec_text()
    assert (PACKAGING / "launcher.py").is_file()
    compile((PACKAGING / "launcher.py").read_text(), "launcher.py", "exec")


def test_spec_collects_what_torch_diffusers_and_transformers_need():
    text = spec_text()
    assert 'collect_submodules("diffusers")' in text
    assert 'collect_data_files("diffusers")' in text
    assert 'copy_metadata("transformers", recursive=True)' in text
    assert 'copy_metadata("diffusers", recursive=True)' in text
    for name in ("torch", "tokenizers", "safetensors", "huggingface_hub", "accelerate", "numpy"):
        assert f'"{name}"' in text
    assert "from diffeditor_app import __version__" in text
    assert "COLLECT(" in text  # one folder, not one file


def test_spec_carries_the_selection_tools():
    text = spec_text()
    assert '"cv2"' in text and '"opencv-python-headless"' in text
    assert 'collect_submodules("transformers.models.sam")' in text


def test_spec_excludes_torchvision_tests_dev_tools_and_the_face_extra():
    """The face extra's landmark model forbids commercial use: the bundle never ships it,
    even when it is built in a developer environment that has it."""
    text = spec_text()
    excludes = text[text.index("EXCLUDES = [") : text.index("\n]", text.index("EXCLUDES = ["))]
    for name in ("torchvision", "tests", "pytest", "ruff", "dlib", "face_recognition_models"):
        assert f'"{name}"' in excludes


def test_bundle_data_is_configs_resources_and_the_toy_model():
    text = spec_text()
    assert not WEIGHTS.search(text)
    sources = re.findall(r'\(str\(ROOT / "([\w/.]+)" / "([\w.]+)"\)', text)
    assert sources, "no data folders found in the spec"
    for parent, name in sources:
        path = ROOT / parent / name
        assert path.exists(), path
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        if path == ROOT / "models" / "toy":  # the demo's model: the only weights, and small
            assert sum(p.stat().st_size for p in files) < 40 * 2**20
        else:
            assert not [p for p in files if WEIGHTS.search(p.name)], path
    assert ("models", "toy") in sources


def test_build_scripts_mirror_each_other():
    linux = (PACKAGING / "build_linux.sh").read_text()
    windows = (PACKAGING / "build_windows.ps1").read_text()
    for step in (
        "--require-hashes",
        "-dev.txt",
        "-torch-cpu.txt",
        "PyInstaller",
        "diffeditor.spec",
        "--noconfirm",
        "--distpath",
        "--workpath",
        "build/dist",
    ):
        assert step in linux, step
        assert step.replace("/", "\\") in windows, step
    assert "packaging/smoke.sh" in linux and "packaging\\smoke.ps1" in windows
    assert "--tar" in linux and "-Zip" in windows
    assert "diffeditor.desktop" in linux and "diffeditor.ico" in windows
    assert "cu128" in windows  # how to build a CUDA bundle


def test_ci_bundle_script_checks_disk_and_runs_the_bundle():
    script = (ROOT / ".ci" / "bundle").read_text()
    assert os.access(ROOT / ".ci" / "bundle", os.X_OK)
    assert "df --output=avail -B1 ." in script and "6 * 1024 * 1024 * 1024" in script
    assert "bash packaging/build_linux.sh" in script  # which ends with packaging/smoke.sh
    assert "git diff" not in script


def test_smoke_edits_every_task_the_window_offers():
    """Every task's demo edit runs, but the face task's, which the bundle must refuse: it
    leaves out the face extra (tests/packaging/test_smoke_script.py checks the refusal)."""
    from diffeditor_app.cli import build_parser

    task = next(a for a in build_parser()._actions if a.dest == "task")
    for script, pattern in (
        ("smoke.sh", r"TASKS=\(([\w ]+)\)"),
        ("smoke.ps1", r'\$tasks = @\(([\w", ]+)\)'),
    ):
        text = (PACKAGING / script).read_text()
        tasks = re.search(pattern, text)[1].replace('"', "").replace(",", " ").split()
        assert [*tasks, "face"] == list(task.choices), script
        assert "--self-test" in text and "--edit" in text and "--demo" in text
        assert "--task face --edit" in text.replace('"', "").replace(",", "")


def test_desktop_entry_and_icons():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive in desktop files
    entry.read(PACKAGING / "diffeditor.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert {"Name", "Exec", "Icon", "Type"} <= set(desktop)
    assert desktop["Type"] == "Application" and desktop["Exec"].startswith("diffeditor")
    assert desktop["Icon"] == "diffeditor"

    from PIL import Image

    with Image.open(ROOT / "resources" / "icons" / "diffeditor.png") as png:
        assert png.format == "PNG" and png.size[0] == png.size[1] >= 128
    with Image.open(ROOT / "resources" / "icons" / "diffeditor.ico") as ico:
        assert ico.format == "ICO" and (256, 256) in ico.info.get("sizes", {ico.size})


def test_windows_version_resource_is_built_from_the_package_version(monkeypatch):
    """The spec's version_resource(), run with PyInstaller's classes (Windows modules stubbed)."""
    compat = pytest.importorskip("PyInstaller.compat")
    monkeypatch.setitem(
        sys.modules, "pefile", sys.modules.get("pefile", types.ModuleType("pefile"))
    )
    monkeypatch.setattr(compat, "win32api", getattr(compat, "win32api", None), raising=False)
    from PyInstaller.utils.win32.versioninfo import VSVersionInfo

    import diffeditor_app

    tree = ast.parse(spec_text())
    function = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "version_resource"
    )
    namespace: dict = {}
    exec(compile(ast.Module([function], []), str(SPEC), "exec"), namespace)
    info = namespace["version_resource"](diffeditor_app.__version__)
    assert isinstance(info, VSVersionInfo)
    assert f"'ProductVersion', '{diffeditor_app.__version__}'" in str(info)


def test_self_test_passes_and_prints_one_line(capsys, qapp):
    from diffeditor_app.selftest import run

    environment = dict(os.environ)
    try:
        assert run() == 0
    finally:
        os.environ.clear()
        os.environ.update(environment)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(
        r"self-test ok: 3-step move edit on the toy model in \d+\.\d s, output \d+x\d+", lines[0]
    )


def test_self_test_reports_a_failure_in_one_line(capsys, qapp, monkeypatch):
    import diffeditor_app.engine.imaging.images as images
    from diffeditor_app.selftest import run

    def broken(path, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(images, "load_image", broken)
    environment = dict(os.environ)
    try:
        assert run() == 1
    finally:
        os.environ.clear()
        os.environ.update(environment)
    assert capsys.readouterr().out == "self-test failed: OSError: disk full\n"
