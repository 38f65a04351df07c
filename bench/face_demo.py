"""The face task on the test portrait, pictured and measured: a slider edit, a reference edit
and a points-file edit through the real `diffeditor edit face` command.

    python bench/face_demo.py [--model toy] [--steps 20] [--resolution R ...]
    # bench/results/face-demo.md and bench/results/face-demo/*.png

The reference face is made from the portrait itself: its pixels warped piecewise-affinely so
that the mouth is wider and smiles (the sliders' own rules give the new points), then turned,
scaled and shifted, so it differs from the portrait in expression and in pose and size. The
alignment (engine/face/align.py) should keep the expression only; the report says how close
its targets come to the sliders' that made the warp.

Each edit runs `python -m diffeditor_app.cli edit face ... --json` (the `diffeditor` console
script's entry) in a child process on this checkout. The points-file edit moves the mouth
far (MOUTH_SHIFT_PX), to see whether the output follows the targets at all. A last edit
puts the portrait on a larger canvas: the 224 px portrait's face is 87 px wide, so its
three-box crop is the whole photo and "pixels outside the crop unchanged" can only be
checked on a bigger one.

The bundled toy model was trained from scratch on 64 px synthetic shape scenes: it cannot
draw faces, so the pictures show the plumbing (points, targets, crop, composing back), not
the method's quality on faces, which needs SD1.5 weights (bench/face.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from diffeditor_app.engine.face.align import GROUPS, reference_targets
from diffeditor_app.engine.face.landmarks import Face, detect_faces
from diffeditor_app.engine.face.sliders import FaceFrame, Sliders
from diffeditor_app.engine.imaging.images import SourceImage, load_image

REPO = Path(__file__).resolve().parents[1]
PORTRAIT = REPO / "tests" / "face" / "portrait.png"
RESULTS = REPO / "bench" / "results"
PICTURES = RESULTS / "face-demo"

REFERENCE_EXPRESSION = Sliders(smile=1.0, mouth_width=0.8)  # what the reference's warp does
REFERENCE_TURN_DEG = 8.0  # the reference's pose: turned this much (counter-clockwise) ...
REFERENCE_SCALE = 1.3  # ... scaled by this ...
REFERENCE_CANVAS = 320  # ... on a square canvas this big ...
REFERENCE_CENTRE = (170.0, 150.0)  # ... with the portrait's centre moved here
SLIDER_ARGS = ("--smile", "1", "--eye-size", "0.6")  # the slider edit
MOUTH_SHIFT_PX = 40.0  # the points-file edit: the mouth moved this far right, a big move
CANVAS_SIDE = 448  # the portrait centred on a plain canvas this big, for the crop check
READING = "## What the pictures show"
PANEL = 256  # side of each picture in a side-by-side
GROUP_COLOURS = {  # one colour per engine/face/align.GROUPS entry
    "jaw": (255, 210, 0),
    "brows": (255, 120, 0),
    "nose": (0, 200, 255),
    "eyes": (0, 255, 120),
    "mouth": (255, 40, 160),
}


@dataclass(frozen=True)
class DemoEdit:
    """One `edit face` run: its name, the photo and the arguments that choose the targets."""

    name: str
    slug: str  # its pictures' file name
    image: Path
    args: tuple[str, ...]
    reference: Face | None = None  # the reference face's own landmarks, for its picture
    reference_image: Path | None = None


@dataclass(frozen=True)
class Row:
    """What the report measures of one edit."""

    edit: str
    resolution: int
    moved: int  # points whose target differs from the point
    before_px: float  # mean over the 68 points of |point - target|
    largest_px: float  # the longest move
    eye_px: float  # the face's eye distance
    found: bool  # a face on the output
    after_px: float | None  # mean over the 68 of |output's landmark - target|
    stayed_px: float | None  # mean over the 68 of |output's landmark - source point|
    outside: str  # pixels outside the crop bit-exact: yes, no, or why not checked
    change: float  # mean |output - source| inside the crop, 0..255
    wall_s: float  # the child process: loading, detection and the edit
    edit_s: float  # prepare + edit, as the command reports them


def piecewise_warp(rgb: np.ndarray, points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The picture moved so that `points` land on `targets`: one affine map per triangle of
    the targets' Delaunay triangulation, the frame's corners and edge midpoints held."""
    h, w = rgb.shape[:2]
    xs, ys = (0, (w - 1) / 2, w - 1), (0, (h - 1) / 2, h - 1)
    frame = np.array([[x, y] for x in xs for y in ys if (x, y) != (xs[1], ys[1])], dtype=np.float64)
    src = np.vstack([points, frame])
    dst = np.vstack([targets, frame])
    subdiv = cv2.Subdiv2D((0, 0, w, h))
    for x, y in dst:
        subdiv.insert((float(x), float(y)))
    labels = np.zeros((h, w), dtype=np.int32)
    maps = [np.array([[1.0, 0, 0], [0, 1.0, 0]])]  # label 0: pixels no triangle covered
    for tri in subdiv.getTriangleList().reshape(-1, 3, 2):
        index = [int(np.argmin(np.hypot(*(dst - corner).T))) for corner in tri]
        if np.hypot(*(dst[index] - tri).T).max() > 0.5:
            continue  # a triangle on the triangulation's outer helper vertices
        maps.append(
            cv2.getAffineTransform(dst[index].astype(np.float32), src[index].astype(np.float32))
        )
        cv2.fillConvexPoly(labels, np.round(dst[index]).astype(np.int32), len(maps) - 1)
    matrices = np.stack(maps)[labels]  # h x w x 2 x 3: each pixel's target -> source map
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    map_x = matrices[..., 0, 0] * xs + matrices[..., 0, 1] * ys + matrices[..., 0, 2]
    map_y = matrices[..., 1, 0] * xs + matrices[..., 1, 1] * ys + matrices[..., 1, 2]
    return cv2.remap(
        rgb,
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def make_reference(portrait: SourceImage, face: Face, path: Path) -> Face:
    """A reference face from the portrait: another expression, pose and size (module doc)."""
    smiling = piecewise_warp(portrait.rgb, face.points, REFERENCE_EXPRESSION.targets(face.points))
    centre = (portrait.width / 2, portrait.height / 2)
    matrix = cv2.getRotationMatrix2D(centre, REFERENCE_TURN_DEG, REFERENCE_SCALE)
    matrix[:, 2] += np.array(REFERENCE_CENTRE) - centre
    posed = cv2.warpAffine(
        smiling,
        matrix,
        (REFERENCE_CANVAS, REFERENCE_CANVAS),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    Image.fromarray(posed).save(path)
    found = detect_faces(load_image(path))
    if not found:
        raise SystemExit(f"dlib finds no face on the made reference {path}.")
    return found[0]


def write_mouth_shift(face: Face, path: Path) -> None:
    """A points file (`--points-file`) whose targets move the mouth MOUTH_SHIFT_PX right."""
    targets = face.points.copy()
    targets[list(GROUPS["mouth"]), 0] += MOUTH_SHIFT_PX
    path.write_text(json.dumps({"targets": targets.tolist()}))


def make_canvas(portrait: SourceImage, path: Path) -> None:
    """The portrait in the middle of a larger photo of one colour, its top-left corner's."""
    canvas = np.empty((CANVAS_SIDE, CANVAS_SIDE, 3), dtype=np.uint8)
    canvas[:] = portrait.rgb[:8, :8].reshape(-1, 3).mean(axis=0).round()
    top, left = (CANVAS_SIDE - portrait.height) // 2, (CANVAS_SIDE - portrait.width) // 2
    canvas[top : top + portrait.height, left : left + portrait.width] = portrait.rgb
    Image.fromarray(canvas).save(path)


def run_edit(
    edit: DemoEdit, out: Path, model: str, steps: int, resolution: int | None
) -> tuple[dict, float]:
    """`diffeditor edit face ... --json` in a child process: (its JSON summary, wall seconds)."""
    command = [sys.executable, "-m", "diffeditor_app.cli", "edit", "face"]
    command += ["--model", model, "--image", str(edit.image), "--steps", str(steps)]
    command += [*edit.args, "--out", str(out), "--json"]
    if resolution is not None:
        command += ["--resolution", str(resolution)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return json.loads(done.stdout), wall


def measure(edit: DemoEdit, summary: dict, out: Path, wall: float) -> tuple[Row, Face | None]:
    pairs = np.array(summary["pairs"], dtype=np.float64)
    points, targets = pairs[:, 0], pairs[:, 1]
    source, result = load_image(edit.image), load_image(out)
    found = detect_faces(result)
    nearest = min(found, key=lambda f: np.abs(f.points - points).mean()) if found else None
    x0, y0, x1, y1 = summary["crop"]
    inside = np.zeros((source.height, source.width), dtype=bool)
    inside[y0:y1, x0:x1] = True
    if inside.all():
        outside = "n/a (crop = whole photo)"
    else:
        same = np.array_equal(source.rgb[~inside], result.rgb[~inside])
        outside = "yes" if same else "no"
    moves = np.hypot(*(targets - points).T)
    row = Row(
        edit=edit.name,
        resolution=summary["resolution"],
        moved=int((moves > 0.01).sum()),
        before_px=float(moves.mean()),
        largest_px=float(moves.max()),
        eye_px=FaceFrame.of(points).unit,
        found=nearest is not None,
        after_px=None if nearest is None else mean_distance(nearest.points, targets),
        stayed_px=None if nearest is None else mean_distance(nearest.points, points),
        outside=outside,
        change=mean_change(source.rgb[inside], result.rgb[inside]),
        wall_s=wall,
        edit_s=summary["prepare_s"] + summary["edit_s"],
    )
    return row, nearest


def mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot(*(a - b).T).mean())


def mean_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def picture_edit(edit: DemoEdit, summary: dict, out: Path, found: Face | None, path: Path) -> None:
    """The side-by-side: the reference with its points (a reference edit), the source with
    its points, targets and crop, and the output with the points dlib finds on it, if any."""
    pairs = np.array(summary["pairs"], dtype=np.float64)
    panels = []
    if edit.reference is not None:
        panels.append(panel(load_image(edit.reference_image), "reference", edit.reference.points))
    source_caption = "source: points, targets, crop"
    panels.append(
        panel(load_image(edit.image), source_caption, pairs[:, 0], pairs[:, 1], summary["crop"])
    )
    if found is None:
        panels.append(panel(load_image(out), "output (dlib: no face)"))
    else:
        panels.append(panel(load_image(out), "output, dlib's points on it", found.points))
    side_by_side(panels, path)


def panel(
    image: SourceImage,
    caption: str,
    points: np.ndarray | None = None,
    targets: np.ndarray | None = None,
    box: list[int] | None = None,
) -> Image.Image:
    """One picture of a side-by-side, PANEL px square: its points as dots, their targets as
    rings joined to them, coloured by group, and the crop as a white frame."""
    scale = PANEL / max(image.width, image.height)
    size = (round(image.width * scale), round(image.height * scale))
    picture = Image.new("RGB", (PANEL, PANEL), (40, 40, 40))
    picture.paste(Image.fromarray(image.rgb).resize(size, Image.LANCZOS), (0, 0))
    draw = ImageDraw.Draw(picture)
    if box is not None:
        draw.rectangle([v * scale for v in box], outline=(255, 255, 255))
    for group, index in GROUPS.items() if points is not None else ():
        colour = GROUP_COLOURS[group]
        for i in index:
            if targets is not None and np.hypot(*(targets[i] - points[i])) > 0.01:
                (px, py), (tx, ty) = points[i] * scale, targets[i] * scale
                draw.line([px, py, tx, ty], fill=colour)
                draw.ellipse([tx - 3, ty - 3, tx + 3, ty + 3], outline=colour)
            x, y = points[i] * scale
            draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=colour)
    draw.rectangle([0, PANEL - 14, PANEL, PANEL], fill=(0, 0, 0))
    draw.text((3, PANEL - 13), caption, fill=(255, 255, 255))
    return picture


def side_by_side(panels: list[Image.Image], path: Path) -> None:
    sheet = Image.new("RGB", (PANEL * len(panels), PANEL))
    for number, picture in enumerate(panels):
        sheet.paste(picture, (number * PANEL, 0))
    sheet.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)  # small


def alignment_check(face: Face, reference: Face) -> tuple[float, float]:
    """Mean px between the mouth's targets from the reference (after alignment) and from the
    sliders that made it, and between the raw reference mouth and the portrait's."""
    mouth = list(GROUPS["mouth"])
    aligned = reference_targets(face.points, reference.points, ["mouth"])[mouth]
    wanted = REFERENCE_EXPRESSION.targets(face.points)[mouth]
    return mean_distance(aligned, wanted), mean_distance(
        reference.points[mouth], face.points[mouth]
    )


def table(rows: list[Row]) -> list[str]:
    lines = [
        "| edit | res | points moved | source->targets px, mean (eye dist.) | longest move px "
        "| face on output | output->targets px (eye dist.) | output->source points px "
        "| outside crop bit-exact | mean change in crop | edit s | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        after = "-" if r.after_px is None else f"{r.after_px:.2f} ({r.after_px / r.eye_px:.1%})"
        stayed = "-" if r.stayed_px is None else f"{r.stayed_px:.2f}"
        lines.append(
            f"| {r.edit} | {r.resolution} | {r.moved}/68 | {r.before_px:.2f} "
            f"({r.before_px / r.eye_px:.1%}) | {r.largest_px:.2f} | {'yes' if r.found else 'no'} "
            f"| {after} | {stayed} | {r.outside} | {r.change:.1f} | {r.edit_s:.1f} "
            f"| {r.wall_s:.1f} |"
        )
    return lines


def command_line(args: argparse.Namespace) -> str:
    """The command that makes this report again."""
    flags = [f"--resolution {r}" for r in args.resolution or []]
    return " ".join(
        ["python bench/face_demo.py", f"--model {args.model}", f"--steps {args.steps}", *flags]
    )


def reading(path: Path) -> str:
    """The report's hand-written part (what the pictures show), kept when it is made again."""
    text = path.read_text() if path.exists() else ""
    start = text.find(READING)
    return text[start:] if start >= 0 else f"{READING}\n\n(Look at the pictures and say.)\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="toy", help="model spec for `edit face`")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--resolution",
        type=int,
        action="append",
        help="working resolution (repeat; default: the model's)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "face-demo.md")
    args = parser.parse_args(argv)
    PICTURES.mkdir(parents=True, exist_ok=True)
    portrait = load_image(PORTRAIT)
    face = detect_faces(portrait)[0]
    reference_path = PICTURES / "reference.png"
    reference = make_reference(portrait, face, reference_path)
    aligned_px, raw_px = alignment_check(face, reference)
    rows: list[Row] = []
    differences = []
    with tempfile.TemporaryDirectory() as scratch:
        canvas = Path(scratch) / "portrait-on-canvas.png"
        make_canvas(portrait, canvas)
        shift = Path(scratch) / "mouth-shift.json"
        write_mouth_shift(face, shift)
        by_reference = ("--reference", str(reference_path))
        edits = [
            DemoEdit("sliders", "1-sliders", PORTRAIT, SLIDER_ARGS),
            DemoEdit("reference", "2-reference", PORTRAIT, by_reference, reference, reference_path),
            DemoEdit(
                f"points file: mouth {MOUTH_SHIFT_PX:g} px right",
                "3-mouth-shift",
                PORTRAIT,
                ("--points-file", str(shift)),
            ),
            DemoEdit(f"sliders, {CANVAS_SIDE} px canvas", "4-sliders-canvas", canvas, SLIDER_ARGS),
        ]
        for resolution in args.resolution or [None]:
            outputs = []
            for edit in edits:
                out = Path(scratch) / f"{edit.slug}-{resolution}.png"
                summary, wall = run_edit(edit, out, args.model, args.steps, resolution)
                row, found = measure(edit, summary, out, wall)
                rows.append(row)
                outputs.append(load_image(out).rgb)
                print(table([row])[-1], flush=True)
                picture_edit(
                    edit, summary, out, found, PICTURES / f"{edit.slug}-{row.resolution}.png"
                )
            for edit, output in zip(edits[1:3], outputs[1:3], strict=True):
                differences.append((edit.name, row.resolution, mean_change(outputs[0], output)))
    sliders = ", ".join(
        f"{k.replace('_', ' ')} {v:g}" for k, v in REFERENCE_EXPRESSION.as_dict().items() if v
    )
    between = "; ".join(f"{name} at {r}: {d:.1f}" for name, r, d in differences)
    lines = [
        "# Face task demo on the test portrait",
        "",
        f"`{command_line(args)}` (pictures in `bench/results/face-demo/`)",
        "",
        f"Model `{args.model}`, {args.steps} steps, on the CPU (2 shared cores: the seconds are "
        f"rough). Slider edit: `{' '.join(SLIDER_ARGS)}`. Reference edit: `--reference` "
        f"`face-demo/reference.png`, the portrait warped piecewise-affinely by the sliders "
        f"{sliders}, turned {REFERENCE_TURN_DEG:g} degrees, scaled {REFERENCE_SCALE:g}x and "
        f"shifted on a {REFERENCE_CANVAS} px canvas. After the similarity alignment its mouth "
        f"lies {aligned_px:.2f} px (mean) from the sliders' mouth that made it; before it, "
        f"{raw_px:.2f} px from the portrait's: pose and size drop out, the expression stays.",
        "",
        "Distances are means over the 68 points in image pixels (in brackets: as a share of the "
        'eye distance). "Mean change in crop": mean |output - source| over the crop\'s pixels '
        f"and channels, 0-255. How far each other portrait edit's output lies from the sliders' "
        f"(mean |difference|, 0-255): {between}.",
        "",
        *table(rows),
        "",
    ]
    hand_written = reading(args.out)
    args.out.write_text("\n".join(lines) + "\n" + hand_written)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
