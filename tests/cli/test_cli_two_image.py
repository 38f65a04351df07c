"""`diffeditor edit appearance|paste` and `--image-prompt none`: the contract, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from diffeditor_app.cli import main


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    base = Image.new("RGB", (128, 96), (200, 185, 150))
    ImageDraw.Draw(base).rectangle((40, 30, 70, 60), fill=(220, 30, 30))
    mask = Image.new("L", (128, 96), 0)
    ImageDraw.Draw(mask).rectangle((38, 28, 72, 62), fill=255)
    reference = Image.new("RGBA", (90, 120), (90, 140, 200, 255))  # another size and mode
    ImageDraw.Draw(reference).ellipse((20, 30, 70, 80), fill=(250, 210, 30, 255))
    reference_mask = Image.new("L", (90, 120), 0)
    ImageDraw.Draw(reference_mask).ellipse((18, 28, 72, 82), fill=255)
    paths = {}
    for name, picture in [
        ("base", base),
        ("mask", mask),
        ("ref", reference),
        ("refmask", reference_mask),
    ]:
        paths[name] = tmp_path / f"{name}.png"
        picture.save(paths[name])
    paths["empty"] = tmp_path / "empty.png"
    Image.new("L", (90, 120), 0).save(paths["empty"])
    return paths


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_appearance_contract(tiny_model_dir, files, tmp_path, capsys):
    out = tmp_path / "appearance.png"
    code, stdout, _ = run(
        capsys,
        "edit",
        "appearance",
        "--model",
        str(tiny_model_dir),
        "--image",
        str(files["base"]),
        "--mask",
        str(files["mask"]),
        "--reference",
        str(files["ref"]),
        "--reference-mask",
        str(files["refmask"]),
        "--reference-prompt",
        "a yellow disc",
        "--out",
        str(out),
        "--steps",
        "4",
        "--json",
    )
    assert code == 0
    summary = json.loads(stdout)
    assert (summary["width"], summary["height"]) == (128, 96) == Image.open(out).size
    original, edited = np.asarray(Image.open(files["base"])), np.asarray(Image.open(out))
    assert np.array_equal(original[:, 100:], edited[:, 100:])  # far from the object


def test_paste_contract_with_image_prompt_off(tiny_model_dir, files, tmp_path, capsys):
    out = tmp_path / "paste.png"
    code, stdout, stderr = run(
        capsys,
        "edit",
        "paste",
        "--model",
        str(tiny_model_dir),
        "--image",
        str(files["base"]),
        "--reference",
        str(files["ref"]),
        "--reference-mask",
        str(files["refmask"]),
        "--at",
        "90,40",
        "--scale",
        "0.5",
        "--out",
        str(out),
        "--steps",
        "4",
        "--json",
        "--image-prompt",
        "none",
    )
    assert code == 0, stderr
    assert json.loads(stdout)["width"] == 128
    original, edited = np.asarray(Image.open(files["base"])), np.asarray(Image.open(out))
    assert np.array_equal(original[:, :30], edited[:, :30])


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--at", "900,40"], "entirely outside"),
        (["--at", "90,40", "--scale", "0"], "scale must be between"),
        (["--at", "90"], "X,Y"),
    ],
)
def test_paste_bad_input_exits_2(tiny_model_dir, files, tmp_path, capsys, extra, words):
    code, stdout, stderr = run(
        capsys,
        "edit",
        "paste",
        "--model",
        str(tiny_model_dir),
        "--image",
        str(files["base"]),
        "--reference",
        str(files["ref"]),
        "--reference-mask",
        str(files["refmask"]),
        "--out",
        str(tmp_path / "x.png"),
        *extra,
    )
    assert code == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and words in stderr


def test_empty_reference_mask_exits_2(tiny_model_dir, files, tmp_path, capsys):
    code, _, stderr = run(
        capsys,
        "edit",
        "appearance",
        "--model",
        str(tiny_model_dir),
        "--image",
        str(files["base"]),
        "--mask",
        str(files["mask"]),
        "--reference",
        str(files["ref"]),
        "--reference-mask",
        str(files["empty"]),
        "--out",
        str(tmp_path / "x.png"),
    )
    assert code == 2 and "reference mask is empty" in stderr


def test_out_may_not_be_the_reference(tiny_model_dir, files, capsys):
    before = files["ref"].read_bytes()
    code, _, stderr = run(
        capsys,
        "edit",
        "paste",
        "--model",
        str(tiny_model_dir),
        "--image",
        str(files["base"]),
        "--reference",
        str(files["ref"]),
        "--reference-mask",
        str(files["refmask"]),
        "--at",
        "90,40",
        "--out",
        str(files["ref"]),
    )
    assert code == 2 and "reference image" in stderr
    assert files["ref"].read_bytes() == before
