"""`diffeditor landmarks` and the face extra's promises: the JSON it prints, exit 2 with one
sentence without the extra, and the licence note in the README and in --help."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffeditor_app.cli import main
from diffeditor_app.engine.face import landmarks

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = Path(__file__).with_name("portrait.png")
LICENCE_WORDS = ("iBUG 300-W", "commercial")


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_landmarks_json_lists_the_portraits_face_in_image_pixels(capsys, portrait_points):
    code, out, err = cli(capsys, "landmarks", "--image", PORTRAIT, "--json")
    assert code == 0, err
    faces = json.loads(out)["faces"]
    assert len(faces) == 1 and len(faces[0]["points"]) == 68
    x0, y0, x1, y1 = faces[0]["box"]
    assert 0 <= x0 < x1 <= 224 and 0 <= y0 < y1 <= 224
    assert np.allclose(faces[0]["points"], portrait_points, atol=0.01)


def test_landmarks_of_a_missing_file_is_bad_input(capsys, tmp_path):
    code, _, err = cli(capsys, "landmarks", "--image", tmp_path / "none.png")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "none.png" in err


@pytest.mark.parametrize(
    "command",
    [
        ["landmarks", "--image", PORTRAIT, "--json"],
        ["edit", "face", "--image", PORTRAIT, "--smile", "0.5", "--out", "never.png", "--json"],
    ],
)
def test_without_the_face_extra_the_commands_exit_2_with_one_sentence(
    capsys, monkeypatch, tmp_path, command
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib raises ImportError
    landmarks.detector.cache_clear()
    try:
        code, out, err = cli(capsys, *command)
    finally:
        landmarks.detector.cache_clear()
    assert (code, out) == (2, "")
    assert err.strip() == f"diffeditor: {landmarks.MISSING_SENTENCE}"
    assert 'pip install -e ".[face]"' in err


@pytest.mark.parametrize("command", [["landmarks"], ["edit", "face"]])
def test_help_of_the_face_commands_carries_the_licence_note(capsys, command):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert all(word in shown for word in LICENCE_WORDS), shown
    assert 'pip install -e ".[face]"' in shown


def test_the_readme_carries_the_licence_note():
    readme = " ".join((ROOT / "README.md").read_text().split())
    section = readme[readme.index("## Faces") :]
    assert all(word in section[:1200] for word in LICENCE_WORDS)
    assert 'pip install -e ".[face]"' in section[:1200]


def face_args(model: Path, out: Path, *extra) -> list:
    return ["edit", "face", "--model", model, "--image", PORTRAIT, "--out", out, *extra]


def test_edit_face_with_sliders_writes_the_photos_size_and_its_pairs(
    tiny_model_dir, tmp_path, capsys, portrait_points
):
    out = tmp_path / "smile.png"
    extra = ["--smile", "0.8", "--mouth-open", "0.5", "--steps", "2", "--json"]
    code, stdout, err = cli(capsys, *face_args(tiny_model_dir, out, *extra))
    assert code == 0, err
    summary = json.loads(stdout)
    with Image.open(out) as written:
        assert written.size == (224, 224)
    pairs = np.array(summary["pairs"])
    assert pairs.shape == (68, 2, 2)
    assert np.allclose(pairs[:, 0], portrait_points, atol=0.01)
    moved = np.linalg.norm(pairs[:, 1] - pairs[:, 0], axis=1) > 0
    assert moved[48:68].any() and not moved[:48].any()  # the mouth's sliders move the mouth
    assert summary["crop"] == [0, 0, 224, 224]  # three face boxes: clipped to the portrait


def test_edit_face_with_its_own_face_as_reference_has_nothing_to_do(tmp_path, capsys):
    """The face copied onto itself moves no point: refused before any model loads."""
    extra = ["--reference", PORTRAIT, "--groups", "mouth,eyes"]
    code, _, err = cli(capsys, *face_args(tmp_path / "nowhere", tmp_path / "o.png", *extra))
    assert code == 2 and "No face point moves" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "exactly one of"),
        (["--smile", "0.5", "--reference", PORTRAIT], "exactly one of"),
        (["--smile", "3"], "smile slider"),
        (["--reference", PORTRAIT, "--groups", "lips"], "Unknown face group"),
        (["--smile", "0.5", "--face", "1"], "1 face(s)"),
        (["--points-file", "POINTS"], "must hold"),
    ],
)
def test_bad_face_edits_exit_2_with_one_line(tmp_path, capsys, extra, message):
    points = tmp_path / "points.json"
    points.write_text(json.dumps({"targets": [[110, 110], [3, 3]]}))  # not 68
    extra = [points if value == "POINTS" else value for value in extra]
    code, _, err = cli(capsys, *face_args(tmp_path / "nowhere", tmp_path / "o.png", *extra))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_edit_face_with_its_points_needs_no_face_extra(
    tiny_model_dir, tmp_path, capsys, monkeypatch
):
    """--points drags the given points on a crop around them: no landmarks, so no dlib."""
    monkeypatch.setitem(sys.modules, "dlib", None)
    landmarks.detector.cache_clear()
    out = tmp_path / "points.png"
    extra = ["--points", "100,150:104,156", "--points", "124,150:120,156", "--steps", "2"]
    try:
        code, stdout, err = cli(capsys, *face_args(tiny_model_dir, out, *extra, "--json"))
    finally:
        landmarks.detector.cache_clear()
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["face"] is None and summary["pairs"] == [
        [[100, 150], [104, 156]],
        [[124, 150], [120, 156]],
    ]
    x0, y0, x1, y1 = summary["box"]  # around the points, at least a quarter of 224 px
    assert (x1 - x0, y1 - y0) == (56, 56) and (x0 + x1) / 2 == 112
    with Image.open(out) as written:
        assert written.size == (224, 224)


def test_edit_face_takes_a_face_box_and_refuses_points_off_its_crop(tmp_path, capsys):
    extra = ["--points", "10,10:14,10", "--face-box", "100,100,130,130"]
    code, _, err = cli(capsys, *face_args(tmp_path / "nowhere", tmp_path / "o.png", *extra))
    assert code == 2 and "outside the crop around the face" in err, err
