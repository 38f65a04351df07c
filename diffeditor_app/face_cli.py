"""The face commands of `diffeditor`, kept apart from cli.py's edit runner:

    diffeditor landmarks --image IMG [--json]

prints `{"faces": [{"box": [x0, y0, x1, y1], "points": [[x, y] x 68]}]}` in image pixels
(EXIF orientation applied), largest face first. The landmarks need the optional face extra;
without it the command says in one sentence what to install and exits with 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

FACE_EPILOG = (
    'Needs the optional face extra: pip install -e ".[face]". The 68-point face landmark '
    "model is trained on the iBUG 300-W data set, whose terms forbid commercial use."
)


def add_landmarks_parser(commands: argparse._SubParsersAction) -> None:
    landmarks = commands.add_parser(
        "landmarks",
        help="find faces and their 68 landmarks (face extra; non-commercial model)",
        description="Find the faces of an image and their 68 landmarks, largest face first.",
        epilog=FACE_EPILOG,
    )
    landmarks.add_argument("--image", required=True, type=Path, help="input image")
    landmarks.add_argument("--json", action="store_true", help="print the faces as JSON")
    landmarks.add_argument("--debug", action="store_true", help="show tracebacks")


def run_landmarks(args: argparse.Namespace) -> int:
    from diffeditor_app.engine.face.landmarks import faces_in_file

    faces = faces_in_file(args.image)
    if args.json:
        print(json.dumps({"faces": [face.as_dict() for face in faces]}))
        return 0
    if not faces:
        print("No face found.")
    for number, face in enumerate(faces):
        x0, y0, x1, y1 = face.box
        print(f"face {number}: box {x0:g},{y0:g},{x1:g},{y1:g}; 68 points")
    return 0
