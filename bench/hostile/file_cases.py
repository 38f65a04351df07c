"""The hostile-input list for files and the command line, run against the real `diffeditor`
command: each case prints PASS or FAIL with what it saw, and the last line counts them.

    python bench/hostile/file_cases.py            # about 3 minutes on 2 cores

Every case runs the CLI in its own process (as a user or a script would), in a scratch
folder, with a time limit; a case fails on a wrong exit code, a message that is not one
line, a file written that must not be, a hang, or memory past its bound.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, TiffImagePlugin

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
SCENE, MASK = SAMPLES / "toy_scene.png", SAMPLES / "toy_circle_mask.png"
PROMPT = "a red circle and a yellow square on a sky to mint gradient background"
LIMIT_S = 120  # any case past this has hung
MEMORY_MB = 1500  # a refused project must not cost more than this


@dataclass
class Run:
    code: int
    err: str
    seconds: float
    peak_mb: float


def diffeditor(*argv: object, cwd: Path) -> Run:
    """The CLI in a process of its own; its exit code, stderr, time and peak memory (its own
    rusage, from wait4)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "diffeditor_app.cli", *map(str, argv)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(process.stderr.read()))
    reader.start()
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - start > LIMIT_S:
            process.kill()
            os.wait4(process.pid, 0)
            process.returncode = -9
            reader.join()
            return Run(-1, "hung", LIMIT_S, 0.0)
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    return Run(
        process.returncode, "".join(err).strip(), time.monotonic() - start, usage.ru_maxrss / 1024
    )


def one_line(run: Run, code: int, *fragments: str) -> str | None:
    """None when the run exited `code` with one diffeditor: line naming `fragments`."""
    lines = [line for line in run.err.splitlines() if "propagateSizeHints" not in line]
    if run.code != code:
        return f"exit {run.code}, expected {code}: {run.err[-300:]}"
    if code != 0 and (len(lines) != 1 or not lines[0].startswith("diffeditor: ")):
        return f"not one line: {run.err[-300:]!r}"
    missing = [f for f in fragments if f not in run.err]
    return f"message lacks {missing}: {run.err[-300:]}" if missing else None


def move(image: Path, out: Path, *extra: object, mask: Path = MASK) -> tuple:
    return (
        "edit",
        "move",
        "--model",
        "toy",
        "--image",
        image,
        "--mask",
        mask,
        "--offset",
        "8,0",
        "--steps",
        "3",
        "--prompt",
        PROMPT,
        "--out",
        out,
        *extra,
    )


def project_with(folder: Path, name: str, manifest_change=None, members=None) -> Path:
    """A small valid project from the toy scene, then crafted."""
    rgb = np.asarray(Image.open(SCENE).convert("RGB"))
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, "PNG")
    manifest = {
        "format": "diffedit",
        "version": 2,
        "task": "move",
        "prompts": {},
        "reference_prompt": "",
        "seed": 1,
        "options": {},
        "box": {"dx": 0.0, "dy": 0.0, "scale": 1.0},
        "paste": {"at": None, "scale": 1.0},
        "pairs": [],
        "masks": [],
        "kept": 0,
        "has_reference": False,
    }
    if manifest_change:
        manifest_change(manifest)
    contents = {
        "project.json": json.dumps(manifest).encode(),
        "original.png": png.getvalue(),
        "current.png": png.getvalue(),
        **(members or {}),
    }
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
    return path


def zero_png(width: int, height: int) -> bytes:
    """A real all-black grey PNG of width x height, compressed row by row (a few KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # a filter byte and the row
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def cases(work: Path) -> list[tuple[str, Callable[[], str | None]]]:
    own_scene = work / "in.png"
    own_scene.write_bytes(SCENE.read_bytes())

    def screenshot_over_input() -> str | None:
        before = own_scene.read_bytes()
        problem = one_line(
            diffeditor("--image", own_scene, "--screenshot", own_scene, cwd=work),
            2,
            "never overwritten",
        )
        return problem or (None if own_scene.read_bytes() == before else "the input changed")

    def screenshot_over_sample() -> str | None:
        before = SCENE.read_bytes()
        problem = one_line(diffeditor("--screenshot", SCENE, cwd=work), 2, "DiffEditor's own")
        return problem or (None if SCENE.read_bytes() == before else "the sample changed")

    def screenshot_over_project() -> str | None:
        project = project_with(work, "p.diffedit")
        before = project.read_bytes()
        problem = one_line(diffeditor("--image", project, "--screenshot", project, cwd=work), 2)
        return problem or (None if project.read_bytes() == before else "the project changed")

    def mask_keeps_mode() -> str | None:
        out = work / "existing.png"
        out.write_bytes(b"old")
        out.chmod(0o644)
        problem = one_line(
            diffeditor("mask", "--image", SCENE, "--click", "20,30", "--out", out, cwd=work), 0
        )
        mode = stat.S_IMODE(out.stat().st_mode)
        return problem or (None if mode == 0o644 else f"mode became {mode:o}")

    def new_output_umask_mode() -> str | None:
        out = work / "new-mode.png"
        problem = one_line(diffeditor(*move(SCENE, out), cwd=work), 0)
        if problem:
            return problem
        expected = 0o666 & ~_umask()
        mode = stat.S_IMODE(out.stat().st_mode)
        return None if mode == expected else f"mode {mode:o}, expected {expected:o}"

    def grey16_transparency() -> str | None:
        grey = np.asarray(Image.open(SCENE).convert("L")).astype(np.uint16) * 257
        path, out = work / "grey16.png", work / "grey16-out.png"
        Image.fromarray(grey).save(path, transparency=int(grey[0, 0]))
        problem = one_line(diffeditor(*move(path, out), cwd=work), 0)
        if problem:
            return problem
        with Image.open(out) as written:
            return None if written.mode in ("RGBA", "LA") else f"written as {written.mode}"

    def big_exif_into_jpeg() -> str | None:
        path, out = work / "exif.png", work / "exif-out.jpg"
        exif = Image.Exif()
        exif[0x010E] = "x" * 100_000  # ImageDescription
        Image.open(SCENE).convert("RGB").save(path, exif=exif.tobytes())
        run = diffeditor(*move(path, out), cwd=work)
        problem = one_line(run, 0)
        return problem or (None if out.is_file() and "EXIF" in run.err else "no output or note")

    def tiff_zero_denominator() -> str | None:
        path, out = work / "res0.tif", work / "res0-out.tif"
        info = TiffImagePlugin.ImageFileDirectory_v2()
        info[282] = TiffImagePlugin.IFDRational(72, 0)
        info[283] = TiffImagePlugin.IFDRational(72, 0)
        Image.open(SCENE).convert("RGB").save(path, tiffinfo=info)
        problem = one_line(diffeditor(*move(path, out), cwd=work), 0)
        return problem or (None if out.is_file() else "no output")

    def huge_dpi() -> str | None:
        path, out = work / "dpi.tif", work / "dpi-out.png"  # a TIFF holds it, a PNG cannot
        Image.open(SCENE).convert("RGB").save(path, dpi=(4294967295, 4294967295))
        problem = one_line(diffeditor(*move(path, out), cwd=work), 0)
        return problem or (None if out.is_file() else "no output")

    def wide_webp() -> str | None:
        path, mask = work / "wide.png", work / "wide-mask.png"
        Image.new("RGB", (17_000, 16)).save(path)
        Image.new("L", (17_000, 16), 255).save(mask)
        run = diffeditor(*move(path, work / "wide.webp", mask=mask), cwd=work)
        return one_line(run, 2, "16383")

    def crafted(change=None, members=None, *fragments: str) -> Callable[[], str | None]:
        def case() -> str | None:
            project = project_with(work, "crafted.diffedit", change, members)
            return one_line(
                diffeditor("--image", project, "--screenshot", work / "s.png", cwd=work),
                2,
                *fragments,
            )

        return case

    def duplicate_member() -> str | None:
        project = project_with(work, "dup.diffedit")
        with zipfile.ZipFile(project, "a") as archive, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile's "Duplicate name": the point here
            archive.writestr("project.json", b'{"format": "diffedit"}')
        return one_line(
            diffeditor("--image", project, "--screenshot", work / "s.png", cwd=work), 2, "twice"
        )

    def special_file(kind: str) -> Callable[[], str | None]:
        def case() -> str | None:
            path = work / f"{kind}.diffedit"
            if kind == "fifo":
                os.mkfifo(path)
            else:
                path.symlink_to("/dev/zero")
            run = diffeditor("--image", path, "--screenshot", work / "s.png", cwd=work)
            return one_line(run, 2, "not a file")

        return case

    def pixel_bomb(members: dict[str, bytes], kept: int) -> Callable[[], str | None]:
        def case() -> str | None:
            project = project_with(work, "bomb.diffedit", lambda m: m.update(kept=kept), members)
            run = diffeditor("--image", project, "--screenshot", work / "s.png", cwd=work)
            problem = one_line(run, 2, "pixels")
            if problem:
                return problem
            small = f"{project.stat().st_size / 1024:.1f} KB"
            return None if run.peak_mb < MEMORY_MB else f"{small} took {run.peak_mb:.0f} MB"

        return case

    def manifest_text(text: str) -> Callable[[], str | None]:
        def case() -> str | None:
            project = project_with(work, "text.diffedit")
            contents = _members(project)
            contents["project.json"] = text.encode()
            _write_members(project, contents)
            run = diffeditor("--image", project, "--screenshot", work / "s.png", cwd=work)
            return one_line(run, 2) or (None if run.seconds < 60 else f"took {run.seconds:.0f} s")

        return case

    def nan_tiff() -> str | None:
        values = np.full((64, 64), np.nan, np.float32)
        values[:32] = 0.5
        path = work / "nan.tif"
        Image.fromarray(values).save(path)
        run = diffeditor(
            "mask", "--image", path, "--click", "5,5", "--out", work / "m.png", cwd=work
        )
        return None if "Warning" not in run.err and run.code in (0, 2) else run.err[-300:]

    def newline_name() -> str | None:
        path = work / "two\nlines.png"
        path.write_bytes(b"not an image")
        return one_line(diffeditor(*move(path, work / "o.png"), cwd=work), 2, "two\\nlines")

    def screenshot_new_folder() -> str | None:
        out = work / "made" / "here" / "s.png"
        problem = one_line(diffeditor("--screenshot", out, cwd=work), 0)
        return problem or (None if out.is_file() else "no screenshot")

    def screenshot_suffix() -> str | None:
        return one_line(diffeditor("--screenshot", work / "s.gifx", cwd=work), 2, ".png")

    def nan_box() -> str | None:
        run = diffeditor(
            "mask", "--image", SCENE, "--box", "0,0,nan,20", "--out", work / "m.png", cwd=work
        )
        return one_line(run, 2, "nan")

    def proc_out() -> str | None:
        return one_line(diffeditor(*move(SCENE, "/proc/o.png"), cwd=work), 2, "--out")

    return [
        ("screenshot over the input image", screenshot_over_input),
        ("screenshot over the app's sample", screenshot_over_sample),
        ("screenshot over the opened project", screenshot_over_project),
        ("mask --out keeps an existing file's mode", mask_keeps_mode),
        ("a new output gets the umask's mode", new_output_umask_mode),
        ("16-bit grey PNG with transparency keeps it", grey16_transparency),
        ("100 KB EXIF into a JPEG", big_exif_into_jpeg),
        ("TIFF resolution with denominator 0", tiff_zero_denominator),
        ("dpi 4294967295", huge_dpi),
        ("17000 px wide WebP refused before the edit", wide_webp),
        ('manifest "masks": [{}]', crafted(lambda m: m.update(masks=[{}]), None, "masks")),
        ('manifest "task": ["move"]', crafted(lambda m: m.update(task=["move"]), None, "task")),
        ("manifest with a member twice", duplicate_member),
        ("400-digit version", crafted(lambda m: m.update(version=10**400), None)),
        ("400-digit seed", crafted(lambda m: m.update(seed=10**400), None, "seed")),
        ("400-digit box.dx", crafted(lambda m: m["box"].update(dx=10**400), None, "box.dx")),
        (".diffedit linking to /dev/zero", special_file("zero")),
        ("FIFO named x.diffedit", special_file("fifo")),
        (
            "two 240 MP zero PNGs in a few KB",
            pixel_bomb(
                {"original.png": zero_png(20_000, 12_000), "current.png": zero_png(20_000, 12_000)},
                0,
            ),
        ),
        (
            "999 kept 1 MP results",
            pixel_bomb({f"kept/{n:03d}.png": zero_png(1000, 1000) for n in range(999)}, 999),
        ),
        ("160 KB manifest of nested brackets", manifest_text('{"a": ' + "[" * 160_000)),
        ('unterminated string of \\" pairs', manifest_text('{"a": "' + '\\"' * 850)),
        ('160 KB unterminated string of \\" pairs', manifest_text('{"a": "' + '\\"' * 80_000)),
        ("float TIFF with NaN prints no warning", nan_tiff),
        ("file name with a newline stays one line", newline_name),
        ("--screenshot into a missing folder", screenshot_new_folder),
        ("--screenshot with an unknown suffix", screenshot_suffix),
        ("--box 0,0,nan,20", nan_box),
        ("--out /proc/o.png before the model", proc_out),
    ]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_members(path: Path, contents: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        results = []
        for name, case in cases(Path(scratch)):
            try:
                problem = case()
            except Exception as error:  # the harness's own failure counts as the case's
                problem = f"{type(error).__name__}: {error}"
            results.append(problem is None)
            print(
                f"{'PASS' if problem is None else 'FAIL'}  {name}"
                + (f": {problem}" if problem else ""),
                flush=True,
            )
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
