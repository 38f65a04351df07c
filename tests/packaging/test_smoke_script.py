"""packaging/smoke.sh against a stand-in bundle: it runs every check, and any failure (an exit
code, a traceback on stderr, a missing screenshot) fails the smoke."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

# A stand-in for the bundle's executable: logs its arguments, writes the screenshot it is
# asked for, refuses the face edit as a bundle without the face extra does, and misbehaves
# as FAKE_FAIL (exit 2 on that task), FAKE_TRACEBACK, FAKE_FACE_EDITS (no refusal) or
# FAKE_FACE_SAYS (another sentence) say.
FAKE = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
task="" shot="" edit=""
while [ $# -gt 0 ]; do
  case $1 in --task) task=$2; shift ;; --screenshot) shot=$2; shift ;; --edit) edit=1 ;; esac
  shift
done
if [ "$task" = face ] && [ -n "$edit" ] && [ -z "$FAKE_FACE_EDITS" ]; then
  echo "${FAKE_FACE_SAYS:-Face landmarks need the optional face extra (dlib ...).}" >&2; exit 2
fi
if [ -n "$FAKE_FAIL" ] && [ "$task" = "$FAKE_FAIL" ]; then
  echo "Edit failed: Cannot load dependency data" >&2; exit 2
fi
if [ -n "$FAKE_TRACEBACK" ] && [ "$task" = "$FAKE_TRACEBACK" ]; then
  echo "Traceback (most recent call last):" >&2
fi
[ -n "$shot" ] && [ "$FAKE_NO_SHOT" != "$task" ] && cp "$FAKE_PNG" "$shot"
exit 0
"""


def smoke(tmp_path: Path, **misbehave: str) -> subprocess.CompletedProcess:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    exe = bundle / "diffeditor"
    exe.write_text(FAKE)
    exe.chmod(0o755)
    Image.new("RGB", (320, 240), "white").save(tmp_path / "shot.png")
    env = dict(os.environ)
    env.update(
        FAKE_LOG=str(tmp_path / "calls.log"),
        FAKE_PNG=str(tmp_path / "shot.png"),
        SMOKE_SHOTS=str(tmp_path / "shots"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",  # the suite's python
        FAKE_FAIL="",
        FAKE_TRACEBACK="",
        FAKE_NO_SHOT="",
        FAKE_FACE_EDITS="",
        FAKE_FACE_SAYS="",
    )
    env.update(misbehave)
    return subprocess.run(
        ["bash", str(ROOT / "packaging" / "smoke.sh"), str(bundle)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_working_bundle_passes_every_check(tmp_path):
    done = smoke(tmp_path)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[0] == "--self-test"
    assert calls[1].startswith("--screenshot")
    for task in ("move", "drag", "appearance", "paste", "face"):
        assert any("--demo" in c and "--edit" in c and f"--task {task}" in c for c in calls), task
    assert "--demo --screenshot" in calls[-2] and calls[-2].endswith("--task face")
    assert "smoke: edit-face refused as it should" in done.stdout
    assert "smoke: passed" in done.stdout
    shots = sorted(path.name for path in (tmp_path / "shots").glob("*.png"))
    assert shots == [f"{name}.png" for name in ("edit-appearance", "edit-drag", "edit-move")] + [
        "edit-paste.png",
        "face.png",
        "window.png",
    ]


@pytest.mark.parametrize(
    ("misbehave", "said"),
    [
        ({"FAKE_FAIL": "appearance"}, "edit-appearance failed"),
        ({"FAKE_TRACEBACK": "paste"}, "edit-paste printed a traceback"),
        ({"FAKE_NO_SHOT": "paste"}, "left no usable screenshot"),
        ({"FAKE_FACE_EDITS": "1"}, "edit-face should have been refused"),
        ({"FAKE_FACE_SAYS": "Out of memory."}, 'edit-face did not say "optional face extra"'),
        ({"FAKE_FAIL": "face"}, "smoke: face failed (exit code 2)"),
    ],
)
def test_any_failure_fails_the_smoke(tmp_path, misbehave, said):
    done = smoke(tmp_path, **misbehave)
    assert done.returncode != 0
    assert said in done.stderr
