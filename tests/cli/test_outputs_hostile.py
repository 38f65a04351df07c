"""Outputs that harm nothing: no write over an input or the app's own files, permissions
kept, format limits and metadata checked before the edit runs, numbers as typed, names
quoted on one line."""

from __future__ import annotations

import argparse
import os
import stat
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import diffeditor_app.engine as engine
from diffeditor_app import cli as cli_module
from diffeditor_app.engine.errors import InvalidInput, quoted
from diffeditor_app.engine.imaging.images import SourceImage, SourceInfo, load_image
from diffeditor_app.engine.imaging.outputs import (
    export_image,
    plan_export,
    write_atomically,
)
from diffeditor_app.ui.app import REPO
from tests.cli.test_cli import assert_one_line_error, cli, move_args, scene  # noqa: F401

SAMPLE = REPO / "resources" / "samples" / "toy_scene.png"


def no_model(monkeypatch) -> None:
    """Loading a model fails the test: the refusal must come before any model work."""

    def refuse(spec):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(engine, "load_model", refuse)


# -- permissions ------------------------------------------------------------------------------


def test_an_existing_file_keeps_its_mode_and_a_new_one_gets_the_umasks(tmp_path):
    existing = tmp_path / "existing.png"
    existing.write_bytes(b"old")
    existing.chmod(0o644)
    write_atomically(existing, lambda stream: stream.write(b"new"))
    assert existing.read_bytes() == b"new"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o644
    previous = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.png"
        write_atomically(fresh, lambda stream: stream.write(b"x"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    secret = tmp_path / "settings.json"
    write_atomically(secret, lambda stream: stream.write(b"{}"), new_mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_the_mask_command_keeps_an_outputs_mode(tmp_path, capsys):
    image = tmp_path / "in.png"
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[10:30, 20:40] = 255
    Image.fromarray(rgb).save(image)
    out = tmp_path / "mask.png"
    out.write_bytes(b"an earlier mask")
    out.chmod(0o644)
    code, _, err = cli(capsys, "mask", "--image", image, "--click", "30,20", "--out", out)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


# -- screenshots ------------------------------------------------------------------------------


def test_a_screenshot_never_writes_its_image_or_the_apps_own_files(tmp_path, capsys):
    image = tmp_path / "in.png"
    image.write_bytes(SAMPLE.read_bytes())
    before, sample_before = image.read_bytes(), SAMPLE.read_bytes()
    code, _, err = cli(capsys, "--image", image, "--screenshot", image)
    assert code == 2
    assert_one_line_error(err, "--screenshot", "never overwritten")
    code, _, err = cli(capsys, "--screenshot", SAMPLE)
    assert code == 2
    assert_one_line_error(err, "DiffEditor's own")
    code, _, err = cli(capsys, "--screenshot", REPO / "models" / "toy" / "shot.png")
    assert code == 2
    assert image.read_bytes() == before and SAMPLE.read_bytes() == sample_before
    assert not (REPO / "models" / "toy" / "shot.png").exists()


@pytest.mark.parametrize("name", ["p.diffedit", "shot.jpg", "shot"])
def test_a_screenshot_is_a_png_said_before_any_window(tmp_path, capsys, name):
    target = tmp_path / name
    if name.endswith(".diffedit"):
        target.write_bytes(b"a project")
    code, _, err = cli(capsys, "--screenshot", target)
    assert code == 2
    assert_one_line_error(err, "--screenshot must end in one of .png")
    if name.endswith(".diffedit"):
        assert target.read_bytes() == b"a project"


def test_a_screenshot_into_a_new_folder_makes_it(tmp_path, capsys, qapp):
    out = tmp_path / "new" / "folder" / "shot.png"
    code, _, err = cli(capsys, "--screenshot", out, "--task", "drag")
    assert code == 0, err
    with Image.open(out) as shot:
        assert shot.format == "PNG" and shot.width > 200


# -- the edit's output, checked before the edit -------------------------------------------------


def test_an_output_folder_that_takes_no_files_is_refused_before_the_model(
    tmp_path,
    scene,  # noqa: F811
    capsys,
    monkeypatch,
):
    no_model(monkeypatch)
    code, _, err = cli(capsys, *move_args(tmp_path, scene, "/proc/o.png", "--offset", "4,0"))
    assert code == 2
    assert_one_line_error(err, "--out cannot be written", "/proc")


def test_a_webp_too_wide_is_refused_before_the_model(tmp_path, capsys, monkeypatch):
    no_model(monkeypatch)
    wide = tmp_path / "wide.png"
    Image.new("RGB", (17_000, 8)).save(wide)
    mask = tmp_path / "mask.png"
    Image.new("L", (17_000, 8), 255).save(mask)
    argv = ["edit", "move", "--model", tmp_path, "--image", wide, "--mask", mask]
    code, _, err = cli(capsys, *argv, "--offset", "1,0", "--out", tmp_path / "o.webp")
    assert code == 2
    assert_one_line_error(err, "WEBP", "16383", "17000x8")


def test_metadata_a_format_cannot_hold_is_dropped_with_a_note(tmp_path):
    exif = b"Exif\x00\x00" + b"x" * 100_000  # past JPEG's 64 KB segment
    source = SourceImage(
        np.zeros((8, 8, 3), np.uint8), info=SourceInfo(exif=exif, dpi=(4294967295.0,) * 2)
    )
    plan = plan_export(tmp_path / "o.jpg", source.size, source)
    assert "exif" not in plan.params
    assert any("EXIF" in note for note in plan.notes)
    png = plan_export(tmp_path / "o.png", source.size, source)
    assert "dpi" not in png.params and any("resolution" in note for note in png.notes)
    notes = export_image(source.to_pil(), tmp_path / "o.png", source)
    assert any("resolution" in note for note in notes)
    with Image.open(tmp_path / "o.png") as written:
        assert written.size == (8, 8)


@pytest.mark.parametrize("dpi", [(float("nan"), 72.0), (0.0, 0.0), (float("inf"), 72.0)])
def test_a_resolution_that_is_no_number_is_not_written(tmp_path, dpi):
    source = SourceImage(np.zeros((8, 8, 3), np.uint8), info=SourceInfo(dpi=dpi))
    assert "dpi" not in plan_export(tmp_path / "o.tif", source.size, source).params
    export_image(source.to_pil(), tmp_path / "o.tif", source)


# -- inputs that lost something silently --------------------------------------------------------


def test_a_16_bit_grey_png_keeps_its_transparency(tmp_path):
    values = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 1000).astype(np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(values).save(path, transparency=3000)
    image = load_image(path)
    assert image.alpha is not None
    assert image.alpha[0, 3] == 0 and (np.delete(image.alpha.ravel(), 3) == 255).all()


def test_a_float_tiff_with_nan_reads_without_a_warning(tmp_path):
    values = np.full((4, 4), np.nan, np.float32)
    values[0, 0] = 0.5
    path = tmp_path / "nan.tif"
    Image.fromarray(values).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(path)
    assert image.rgb[0, 0, 0] == 128 and image.rgb[1:, :, 0].max() == 0


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path):
    path = tmp_path / "two\nlines.png"
    path.write_bytes(b"not an image")
    with pytest.raises(InvalidInput) as caught:
        load_image(path)
    assert "\n" not in str(caught.value) and "two\\nlines.png" in str(caught.value)
    assert quoted("a\tb") == "'a\\tb'"


# -- numbers as typed ---------------------------------------------------------------------------


MOVE = ["edit", "move", "--image", "i.png", "--mask", "m.png", "--out", "o.png"]


@pytest.mark.parametrize(
    "argv",
    [
        ["mask", "--image", "i.png", "--box", "0,0,nan,20", "--out", "m.png"],
        ["mask", "--image", "i.png", "--click", "inf,3", "--out", "m.png"],
        [*MOVE, "--offset", "nan,0"],
        [*MOVE, "--offset", "1,2", "--scale", "nan"],
    ],
)
def test_nan_and_inf_are_refused_as_typed(capsys, argv):
    code, _, err = cli(capsys, *argv)
    assert code == 2
    line = assert_one_line_error(err)
    assert "nan" in line or "inf" in line


PARSERS = {
    "_finite": cli_module._finite,
    "_pair": cli_module._pair,
    "_box": cli_module._box,
    "_radius": cli_module._radius,
    "_seed": cli_module._seed,
    "_points": cli_module._points,
}
TYPED = st.text(max_size=40) | st.lists(
    st.sampled_from(["1", "-2.5", "nan", "inf", "-inf", "1e309", "", " ", "0x10", "1_0", "٣"]),
    max_size=5,
).map(",".join)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_typed_text_with_a_newline_is_quoted_on_one_line(name):  # found by the test below
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        PARSERS[name]("1\n2")
    assert "\n" not in str(caught.value) and "1\\n2" in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(PARSERS)), text=TYPED)
def test_number_parsers_end_in_a_value_or_one_sentence(name, text):
    try:
        value = PARSERS[name](text)
    except argparse.ArgumentTypeError as error:
        assert "\n" not in str(error)
    else:
        flat = np.ravel(np.asarray(value, dtype=float))
        assert np.isfinite(flat).all()
