"""`.diffedit` project files: one zip holding the original, the current image, the masks,
points, layers, settings and kept results, so a session can be saved and reopened."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from diffeditor_app.document.session import (
    DragPair,
    EditOptions,
    MaskName,
    MoveBox,
    PasteLayer,
    SessionState,
)
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.images import SourceImage
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.settings import Task

FORMAT = "diffedit"
VERSION = 1


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _mask_png(mask: np.ndarray) -> bytes:
    return _png(Image.fromarray(mask.astype(np.uint8) * 255, "L"))


def _point(value) -> list[float] | None:
    return None if value is None else [float(value[0]), float(value[1])]


def save_project(state: SessionState, path: Path) -> None:
    """Write atomically: a crash while saving never leaves a broken project behind."""
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "task": state.task.value,
        "prompt": state.prompt,
        "reference_prompt": state.reference_prompt,
        "seed": state.seed,
        "options": asdict(state.options),
        "box": asdict(state.box),
        "paste": {"at": _point(state.paste.at), "scale": state.paste.scale},
        "pairs": [{"handle": _point(p.handle), "target": _point(p.target)} for p in state.pairs],
        "masks": sorted(name.value for name in state.masks),
        "kept": len(state.kept),
        "has_reference": state.reference is not None,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("project.json", json.dumps(manifest, indent=2))
            archive.writestr("original.png", _png(state.original.to_pil()))
            archive.writestr("current.png", _png(state.current.to_pil()))
            for name, mask in state.masks.items():
                archive.writestr(f"masks/{name.value}.png", _mask_png(mask))
            if state.reference is not None:
                archive.writestr("reference.png", _png(state.reference.to_pil()))
            for number, image in enumerate(state.kept):
                archive.writestr(f"kept/{number:03d}.png", _png(image.to_pil()))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_project(path: Path) -> SessionState:
    """Read a project file; a damaged or foreign file is one sentence, not a traceback."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read("project.json"))
            if manifest.get("format") != FORMAT:
                raise InvalidInput(f"'{path}' is not a DiffEditor project.")
            if manifest.get("version", 0) > VERSION:
                raise InvalidInput(f"'{path}' was saved by a newer DiffEditor.")

            def image(name: str) -> SourceImage:
                with Image.open(io.BytesIO(archive.read(name))) as picture:
                    return SourceImage.from_pil(picture, name=name)

            def mask(name: str) -> np.ndarray:
                with Image.open(io.BytesIO(archive.read(f"masks/{name}.png"))) as picture:
                    return np.asarray(picture.convert("L")) > 127

            state = SessionState(
                original=image("original.png"),
                current=image("current.png"),
                masks={MaskName(name): mask(name) for name in manifest["masks"]},
                pairs=[
                    DragPair(Point(*p["handle"]), Point(*p["target"]) if p["target"] else None)
                    for p in manifest["pairs"]
                ],
                box=MoveBox(**manifest["box"]),
                paste=PasteLayer(
                    Point(*manifest["paste"]["at"]) if manifest["paste"]["at"] else None,
                    manifest["paste"]["scale"],
                ),
                reference=image("reference.png") if manifest["has_reference"] else None,
                task=Task(manifest["task"]),
                prompt=manifest["prompt"],
                reference_prompt=manifest["reference_prompt"],
                seed=int(manifest["seed"]),
                options=EditOptions(**manifest["options"]),
                kept=[image(f"kept/{n:03d}.png") for n in range(manifest["kept"])],
            )
    except InvalidInput:
        raise
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as error:
        raise InvalidInput(f"'{path}' is not a readable DiffEditor project ({error}).") from None
    return state
