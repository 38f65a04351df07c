"""The face commands of `diffeditor`, kept apart from cli.py's edit runner:

    diffeditor landmarks --image IMG [--json]
    diffeditor edit face --image IMG (--reference REF [--groups mouth,eyes] | --smile S
        --eye-size S ... | --points-file F) [--face N] [--mask FACE.png] --out OUT [--json]

`landmarks` prints `{"faces": [{"box": [x0, y0, x1, y1], "points": [[x, y] x 68]}]}` in
image pixels (EXIF orientation applied), largest face first. `edit face` drags the chosen
face's 68 points to targets from a reference face, from sliders or from a file; its --json
adds "pairs": [[[hx, hy], [tx, ty]], ...] in image pixels. Both need the optional face
extra; without it they say in one sentence what to install and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

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


def add_face_edit_parser(edit: argparse._SubParsersAction, common: argparse.ArgumentParser):
    """`edit face`, with the edit options every task shares (`common`)."""
    from diffeditor_app.engine.face.align import GROUPS
    from diffeditor_app.engine.face.sliders import Sliders

    face = edit.add_parser(
        "face",
        parents=[common],
        help="move a face's landmarks: reference face, sliders or points (face extra)",
        description="Edit a face by dragging its 68 landmarks (landmark guidance), on a "
        "square crop around the face put back into the full photo.",
        epilog=FACE_EPILOG,
    )
    face.add_argument("--face", type=int, default=0, help="which face, 0 the largest")
    face.add_argument("--mask", type=Path, default=None, help="optional face mask")
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


def _targets(args: argparse.Namespace, points: np.ndarray) -> np.ndarray | None:
    """The 68 targets from the one source the user chose; None: pairs come from a file."""
    from diffeditor_app.engine.errors import InvalidInput
    from diffeditor_app.engine.face.align import reference_targets
    from diffeditor_app.engine.face.landmarks import detect_faces
    from diffeditor_app.engine.face.sliders import Sliders
    from diffeditor_app.engine.imaging.images import load_image

    values = {
        f.name: getattr(args, f.name) for f in fields(Sliders) if getattr(args, f.name) is not None
    }
    chosen = [args.reference is not None, bool(values), args.points_file is not None]
    if sum(chosen) != 1:
        raise InvalidInput(
            "Give exactly one of --reference, the sliders (--smile, --eye-size, ...) and "
            "--points-file."
        )
    if args.reference is not None:
        faces = detect_faces(load_image(args.reference))
        if not faces:
            raise InvalidInput(f"No face found on the reference {args.reference}.")
        return reference_targets(points, faces[0].points, args.groups.split(","))
    if values:
        return Sliders(**values).targets(points)
    return None


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


def run_face_edit(args: argparse.Namespace) -> int:
    from diffeditor_app.engine import Editor, FaceEdit, ModelSpec, Point, load_model
    from diffeditor_app.engine.errors import InvalidInput
    from diffeditor_app.engine.face.crop import pairs_for
    from diffeditor_app.engine.face.landmarks import detect_faces
    from diffeditor_app.engine.imaging.images import load_image, load_mask
    from diffeditor_app.engine.imaging.outputs import (
        UserFiles,
        export_image,
        plan_export,
        preview_name,
        write_preview,
    )
    from diffeditor_app.engine.models.loading import check_device
    from diffeditor_app.engine.models.model import SD15_HUB_ID

    if args.server:
        raise InvalidInput("The face task does not run on a server yet; leave out --server.")
    given = {"the input image": args.image, "the reference image": args.reference}
    files = UserFiles({what: path for what, path in given.items() if path is not None})
    files.check_output(args.out)
    if args.previews is not None:
        files.check_previews(args.previews, max(args.steps, 0))
    check_device(args.device)
    image = load_image(args.image)
    faces = detect_faces(image)
    if not faces:
        raise InvalidInput(f"No face found on {args.image}.")
    if not 0 <= args.face < len(faces):
        raise InvalidInput(f"--face {args.face}: the image has {len(faces)} face(s), from 0.")
    face = faces[args.face]
    targets = _targets(args, face.points)
    handles = face.points
    if targets is None:
        handles, targets = _points_file(args.points_file, face.points)
    pairs = pairs_for(handles, targets, image.width, image.height)
    request = FaceEdit(
        image=image,
        pairs=tuple((Point(*h), Point(*t)) for h, t in pairs),
        face_box=face.box,
        mask=None if args.mask is None else load_mask(args.mask, image.size, "face mask"),
        prompt=args.prompt or FaceEdit.prompt,
        seed=args.seed,
        steps=args.steps,
        resolution=args.resolution,
        raw=args.raw,
        image_prompt=args.image_prompt != "none",
        overrides={} if args.ip_scale is None else {"ip_scale": args.ip_scale},
    )
    request.validate()  # before the model loads
    source = None if args.raw else image
    plan = plan_export(args.out, None if args.raw else image.size, source)
    spec = ModelSpec(
        args.model or SD15_HUB_ID,
        args.device,
        args.dtype,
        allow_download=not args.no_download,
        image_prompt=args.image_prompt,
        image_encoder=args.image_encoder,
        vram_preset=args.vram,
    )
    editor = Editor(load_model(spec))
    on_step = None
    if args.previews:
        args.previews.mkdir(parents=True, exist_ok=True)

        def on_step(info) -> None:
            write_preview(info.preview, args.previews / preview_name(info.step))

    result = editor.edit(request, on_step=on_step)
    for note in result.notes + export_image(result.image, args.out, source=source, plan=plan):
        print(note, file=sys.stderr)
    if args.json:
        crop = request.working_crop()
        summary = {
            "output": str(args.out),
            "width": result.image.width,
            "height": result.image.height,
            "face": args.face,
            "box": [round(v, 2) for v in face.box],
            "crop": crop.as_list(),
            "pairs": [
                [[round(h.x, 2), round(h.y, 2)], [round(t.x, 2), round(t.y, 2)]]
                for h, t in request.pairs
            ],
            "device": result.device,
            "seed": result.seed,
            "steps": result.steps,
            "resolution": result.resolution,
            "working_size": list(result.working_size),
            "prepare_s": round(result.prepare_s, 4),
            "edit_s": round(result.edit_s, 4),
            "unet_forward": result.unet_forward,
            "unet_backward": result.unet_backward,
        }
        print(json.dumps(summary))
    return 0
