"""`diffeditor mask`: edit's exit codes and bad-input rules; a mask `edit --mask` reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from diffeditor_app.cli import main
from diffeditor_app.engine.imaging.images import load_mask
from diffeditor_app.engine.selection import iou
from diffeditor_app.engine.selection.scenes import make_scene

HEIGHT, WIDTH = 120, 160


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mask")
    scene = make_scene("flat", HEIGHT, WIDTH, seed=7)
    path = folder / "scene.png"
    Image.fromarray(scene.rgb).save(path)
    return scene, path


def _xy(scene) -> str:
    return f"{scene.click.x:.1f},{scene.click.y:.1f}"


def test_a_click_writes_the_object_as_a_mask_edit_reads(scene, tmp_path, capsys):
    truth, image = scene
    out = tmp_path / "m.png"
    code = main(["mask", "--image", str(image), "--click", _xy(truth), "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "wand" and summary["width"] == WIDTH
    with Image.open(out) as written:
        assert written.mode == "L" and written.size == (WIDTH, HEIGHT)
    assert iou(load_mask(out, (WIDTH, HEIGHT)), truth.truth) >= 0.97


def test_a_box_uses_grabcut_and_refinements_apply(scene, tmp_path, capsys):
    truth, image = scene
    b = truth.box
    box = f"{b.x0:.0f},{b.y0:.0f},{b.x1:.0f},{b.y1:.0f}"
    out, grown = tmp_path / "box.png", tmp_path / "grown.png"
    assert main(["mask", "--image", str(image), "--box", box, "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "grabcut"
    assert (
        main(["mask", "--image", str(image), "--box", box, "--grow", "3", "--out", str(grown)]) == 0
    )
    plain, bigger = load_mask(out, (WIDTH, HEIGHT)), load_mask(grown, (WIDTH, HEIGHT))
    assert iou(plain, truth.truth) >= 0.9
    assert bigger.sum() > plain.sum() and (bigger | plain).sum() == bigger.sum()
    inverted = tmp_path / "inv.png"
    args = ["mask", "--image", str(image), "--box", box, "--invert", "--out", str(inverted)]
    assert main(args) == 0
    assert np.array_equal(load_mask(inverted, (WIDTH, HEIGHT)), ~plain)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--click=-3,4"], "outside"),
        (["--click", "-3,4"], "outside"),
        (["--click", "500,4"], "outside"),
        (["--click", "3"], "X,Y"),
        (["--box", "1,2,3"], "X0,Y0,X1,Y1"),
        (["--box", "-50,-50,-10,-10"], "does not cover"),
        ([], "needs a click"),
        (["--negative", "5,5"], "needs a click"),
        (["--click", "5,5", "--method", "grabcut"], "exactly one box"),
        (["--box", "1,1,50,50", "--method", "wand"], "clicks, not boxes"),
        (["--click", "5,5", "--tolerance", "300"], "tolerance"),
        (["--click", "5,5", "--grow", "-2"], "radius"),
        (["--click", "5,5", "--method", "magic"], "invalid choice"),
        (["--click", "5,5", "--device", "mps"], "Unknown device"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(scene, tmp_path, capsys, args, message):
    _, image = scene
    out = tmp_path / "m.png"
    assert main(["mask", "--image", str(image), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def test_files_are_checked(scene, tmp_path, capsys):
    _, image = scene
    assert main(["mask", "--image", str(image), "--click", "5,5", "--out", str(image)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert (
        main(
            [
                "mask",
                "--image",
                str(tmp_path / "no.png"),
                "--click",
                "5,5",
                "--out",
                str(tmp_path / "m.png"),
            ]
        )
        == 2
    )
    assert (
        main(["mask", "--image", str(image), "--click", "5,5", "--out", str(tmp_path / "m.xyz")])
        == 2
    )


def test_odd_image_modes_are_read(tmp_path):
    grey16 = (np.arange(40 * 30, dtype=np.uint16).reshape(30, 40) * 50).astype(np.uint16)
    grey16[10:20, 10:20] = 65535
    inputs = {
        "rgba.png": Image.new("RGBA", (40, 30), (10, 200, 30, 128)),
        "p.png": Image.new("RGB", (40, 30), (10, 200, 30)).convert("P"),
        "cmyk.jpg": Image.new("CMYK", (40, 30), (0, 200, 30, 0)),
        "grey16.png": Image.fromarray(grey16),
    }
    for name, picture in inputs.items():
        path = tmp_path / name
        picture.save(path)
        out = tmp_path / f"{name}.mask.png"
        assert main(["mask", "--image", str(path), "--click", "15,15", "--out", str(out)]) == 0, (
            name
        )
        assert load_mask(out, (40, 30))[15, 15]


def test_an_empty_selection_is_refused(scene, tmp_path, capsys):
    _, image = scene
    args = ["mask", "--image", str(image), "--click", "5,5", "--shrink", "500"]
    assert main([*args, "--out", str(tmp_path / "m.png")]) == 2
    assert "Nothing was selected" in capsys.readouterr().err


def test_sam_without_weights_fails_fast_with_exit_1(scene, tmp_path, capsys):
    _, image = scene
    args = ["mask", "--image", str(image), "--click", "5,5", "--method", "sam"]
    assert main([*args, "--out", str(tmp_path / "m.png")]) == 1
    assert "Hugging Face cache" in capsys.readouterr().err


def test_sam_through_a_local_folder(scene, tmp_path):
    from diffeditor_app.engine.models.testing import write_tiny_sam

    _, image = scene
    folder = write_tiny_sam(tmp_path / "sam")
    out = tmp_path / "m.png"
    args = ["mask", "--image", str(image), "--click", "80,60", "--sam-model", str(folder)]
    code = main([*args, "--device", "cpu", "--out", str(out)])
    assert code in (0, 2)  # a random SAM may select nothing; then it says so (exit 2)
    if code == 0:
        assert Image.open(out).size == (WIDTH, HEIGHT)
