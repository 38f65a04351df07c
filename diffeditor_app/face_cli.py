"""The face commands of `diffeditor` that need the face's landmarks (cli.py runs the edit):

    diffeditor landmarks --image IMG [--json]
    diffeditor edit face --image IMG (--points HX,HY:TX,TY ... | --reference REF [--groups
        mouth,eyes] | --smile S --eye-size S ... | --points-file F) [--face N] [--face-box
        X0,Y0,X1,Y1] [--mask FACE.png] --out OUT [--json]

`landmarks` prints `{"faces": [{"box": [x0, y0, x1, y1], "points": [[x, y] x 68]}]}` in
image pixels (EXIF orientation applied), largest face first. `edit face` drags the chosen
face's 68 points to targets from a reference face, from sliders or from a file; its --json
adds "pairs": [[[hx, hy], [tx, ty]], ...] in image pixels. Both need the optional face
extra (`edit face --points` excepted); without it they say in one sentence what to install
and exit with 2.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from diffeditor_app.engine.imaging.images import SourceImage
    from diffeditor_app.engine.tasks.face import FaceEdit

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


SLIDER_HELP = "a Face-Aware-Liquify-like slider, -1..1 (0: unchanged; positive: more)"
POINTS_FILE_HELP = (
    'JSON: {"targets": [[x, y] x 68]} for the face\'s points, or '
    '{"pairs": [[[hx, hy], [tx, ty]], ...]}, image pixels'
)


def add_face_sources(face: argparse.ArgumentParser) -> None:
    """`edit face`'s other ways to its points, beside the --points its request declares: a
    reference face, the sliders or a points file, each on the face found on the image."""
    from diffeditor_app.engine.face.align import GROUPS
    from diffeditor_app.engine.face.sliders import Sliders

    face.description = (
        "Edit a face by dragging its landmarks (landmark guidance), on a square crop around "
        "the face put back into the full photo."
    )
    found_by_landmarks = "--reference, the sliders and --points-file find the face's landmarks."
    face.epilog = f"{found_by_landmarks} {FACE_EPILOG}"
    face.add_argument("--face", type=int, default=0, help="which face, 0 the largest")
    face.add_argument("--reference", type=Path, help="a reference face photo to copy")
    face.add_argument(
        "--groups",
        default=",".join(GROUPS),
        help=f"with --reference: the groups to transfer ({', '.join(GROUPS)})",
    )
    for slider in fields(Sliders):
        flag = "--" + slider.name.replace("_", "-")
        face.add_argument(flag, dest=slider.name, type=float, default=None, help=SLIDER_HELP)
    face.add_argument("--points-file", type=Path, help=POINTS_FILE_HELP)


def face_values(
    args: argparse.Namespace, image: SourceImage, given: dict[str, Any]
) -> dict[str, Any]:
    """The request's pairs and face box from the one source the user chose: --points as
    given (no face extra needed), or the 68 landmarks of the chosen face moved by a
    reference face, the sliders or a points file."""
    from diffeditor_app.engine.errors import InvalidInput
    from diffeditor_app.engine.face.align import reference_targets
    from diffeditor_app.engine.face.crop import pairs_for
    from diffeditor_app.engine.face.landmarks import detect_faces
    from diffeditor_app.engine.face.sliders import Sliders
    from diffeditor_app.engine.imaging.images import load_image

    values = {
        f.name: getattr(args, f.name) for f in fields(Sliders) if getattr(args, f.name) is not None
    }
    chosen = [
        "pairs" in given,
        args.reference is not None,
        bool(values),
        args.points_file is not None,
    ]
    if sum(chosen) != 1:
        raise InvalidInput(
            "Give exactly one of --points, --reference, the sliders (--smile, --eye-size, ...) "
            "and --points-file."
        )
    if "pairs" in given:
        return {}
    faces = detect_faces(image)
    if not faces:
        raise InvalidInput(f"No face found on {args.image}.")
    if not 0 <= args.face < len(faces):
        raise InvalidInput(f"--face {args.face}: the image has {len(faces)} face(s), from 0.")
    face = faces[args.face]
    handles = face.points
    if args.reference is not None:
        found = detect_faces(load_image(args.reference))
        if not found:
            raise InvalidInput(f"No face found on the reference {args.reference}.")
        targets = reference_targets(face.points, found[0].points, args.groups.split(","))
    elif values:
        targets = Sliders(**values).targets(face.points)
    else:
        handles, targets = _points_file(args.points_file, face.points)
    box = given.get("face_box") or face.box  # a box the user gave wins over the detector's
    return {"pairs": pairs_for(handles, targets, image.width, image.height), "face_box": box}


def _points_file(path: Path, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(handles, targets) from a points file, checked to be finite pixel pairs."""
    from diffeditor_app.engine.errors import InvalidInput, quoted

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise InvalidInput(f"{quoted(path)} is not a readable JSON file ({error}).") from None
    try:
        if isinstance(data, dict) and "targets" in data:
            handles, targets = points, np.array(data["targets"], dtype=np.float64)
            if targets.shape != points.shape:
                raise ValueError
        elif isinstance(data, dict) and "pairs" in data:
            pairs = np.array(data["pairs"], dtype=np.float64)
            if pairs.ndim != 3 or pairs.shape[1:] != (2, 2) or not len(pairs):
                raise ValueError
            handles, targets = pairs[:, 0], pairs[:, 1]
        else:
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidInput(f"{quoted(path)} must hold {POINTS_FILE_HELP}.") from None
    if not (np.isfinite(handles).all() and np.isfinite(targets).all()):
        raise InvalidInput(f"{quoted(path)} holds a point that is not a finite number.")
    return handles, targets


def face_summary(args: argparse.Namespace, request: FaceEdit) -> dict[str, Any]:
    """What `edit face --json` adds: the face (None for --points), its box and crop, and the
    pairs, all in image pixels."""
    crop = request.working_crop()
    return {
        "face": None if args.pairs is not None else args.face,
        "box": [round(v, 2) for v in request.box()],
        "crop": None if crop is None else crop.as_list(),
        "pairs": [
            [[round(h.x, 2), round(h.y, 2)], [round(t.x, 2), round(t.y, 2)]]
            for h, t in request.pairs
        ],
    }
