"""`diffeditor landmarks` and the face extra's promises: the JSON it prints, exit 2 with one
sentence without the extra, and the licence note in the README and in --help."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

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


def test_without_the_face_extra_landmarks_exits_2_with_one_sentence(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib raises ImportError
    landmarks.detector.cache_clear()
    try:
        code, out, err = cli(capsys, "landmarks", "--image", PORTRAIT, "--json")
    finally:
        landmarks.detector.cache_clear()
    assert (code, out) == (2, "")
    assert err.strip() == f"diffeditor: {landmarks.MISSING_SENTENCE}"
    assert 'pip install -e ".[face]"' in err


@pytest.mark.parametrize("command", [["landmarks"]])
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
