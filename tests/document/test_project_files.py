"""Project files are untrusted input: crafted manifests, oversized members and
decompression bombs are one sentence (InvalidInput), never a crash or gigabytes of memory."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from diffeditor_app.document import project
from diffeditor_app.document.project import load_project, save_project
from diffeditor_app.document.state import FaceSetup, MaskName, SessionState
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.face.sliders import Sliders
from diffeditor_app.engine.limits import MAX_STEPS
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.engine.settings import Quality
from diffeditor_app.engine.tasks.registry import Task

WIDTH, HEIGHT = 64, 48


@pytest.fixture
def good(tmp_path) -> Path:
    image, _ = square_scene(WIDTH, HEIGHT)
    state = SessionState.for_image(image)
    state.masks[MaskName.OBJECT][10:20, 10:20] = True
    path = tmp_path / "good.diffedit"
    save_project(state, path)
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def manifest(path: Path) -> dict:
    return json.loads(members(path)["project.json"])


def craft(path: Path, name: str, replace: dict[str, bytes], sizes: dict[str, int] | None = None):
    """A copy of a project with some members replaced; `sizes` overwrites the sizes its
    central directory declares (what a crafted archive can claim)."""
    out = path.with_name(name)
    contents = {**members(path), **replace}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
        for info in archive.filelist:
            if sizes and info.filename in sizes:
                info.file_size = sizes[info.filename]
    return out


def with_manifest(path: Path, change) -> Path:
    data = manifest(path)
    changed = change(data)
    text = changed if isinstance(changed, str) else json.dumps(data if changed is None else changed)
    return craft(path, "crafted.diffedit", {"project.json": text.encode()})


def refused(path: Path, *fragments: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        load_project(path)
    message = str(caught.value)
    assert message.count(". ") == 0 and message.endswith("."), message  # one sentence
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a few bytes of pixel data: what a
    decompression bomb looks like before it is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    pixels = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_good_project_loads(good):
    state = load_project(good)
    assert state.original.size == (WIDTH, HEIGHT)
    assert state.masks[MaskName.OBJECT].sum() == 100


def test_a_version_1_project_keeps_its_one_prompt_for_the_task_it_was_saved_on(good):
    def older(m):
        m.update(version=1, task="paste", prompt="a purple triangle")
        del m["prompts"]

    state = load_project(with_manifest(good, older))
    assert state.task is Task.PASTE and state.prompt == "a purple triangle"
    assert state.prompts == {Task.PASTE: "a purple triangle"}


def test_a_version_2_project_reads_its_flexibility_as_eta_in(good):
    def older(m):
        m["version"] = 2
        del m["options"]["eta_in"]
        m["options"]["flexibility"] = 0.7

    assert load_project(with_manifest(good, older)).options.eta_in == 0.7


def test_the_face_set_up_is_saved_and_a_version_3_project_opens_without_one(good, tmp_path):
    state = load_project(good)
    state.face_setup = FaceSetup(
        chosen=1,
        groups=("eyes", "mouth"),
        sliders=Sliders(smile=0.5, eye_size=-0.25),
        reference=True,
        dragged=((57, 1.0, 10.0), (8, -2.0, 0.5)),
    )
    save_project(state, tmp_path / "face.diffedit")
    assert load_project(tmp_path / "face.diffedit").face_setup == state.face_setup

    def older(m):
        m["version"] = 3
        del m["face_setup"]

    assert load_project(with_manifest(good, older)).face_setup == FaceSetup()


def test_a_project_with_steps_past_the_old_app_cap_opens(good):
    """The app once capped steps at 200 while the CLI and the engine took 1000."""
    state = load_project(with_manifest(good, lambda m: m["options"].update(steps=500)))
    assert state.options.steps == 500


# -- the crafted files of the issue ------------------------------------------------------------


def test_box_with_text_for_a_number(good):
    crafted = with_manifest(good, lambda m: m["box"].update(dx="left"))
    refused(crafted, "box.dx", "number")


def test_options_with_text_for_steps(good):
    crafted = with_manifest(good, lambda m: m["options"].update(steps="many"))
    refused(crafted, "options.steps")


def test_the_quality_choice_is_remembered_and_a_bad_one_refused(good, tmp_path):
    state = load_project(good)
    assert state.options.quality is None  # none chosen: the preference applies
    state.options = replace(state.options, quality=Quality.FAST)
    save_project(state, tmp_path / "fast.diffedit")
    assert load_project(tmp_path / "fast.diffedit").options.quality is Quality.FAST
    crafted = with_manifest(good, lambda m: m["options"].update(quality="best"))
    refused(crafted, "options.quality", "full", "fast")


def test_manifest_that_is_a_list(good):
    crafted = with_manifest(good, lambda m: [m])
    refused(crafted, "JSON object")


def test_deeply_nested_manifest(good):
    depth = 100_000
    crafted = with_manifest(
        good, lambda m: json.dumps(m)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    )
    refused(crafted, "nests deeper")


def test_huge_png_inside_a_small_project_is_refused_from_its_header(good):
    crafted = craft(good, "bomb.diffedit", {"original.png": png_header_only(20_000, 20_000)})
    assert crafted.stat().st_size < 10_000
    refused(crafted, "original.png", "20000x20000", "megapixels")


def test_manifest_declared_as_a_gigabyte_is_refused_before_reading(good):
    crafted = craft(good, "big.diffedit", {}, sizes={"project.json": 1 << 30})
    refused(crafted, "project.json", "1,073,741,824")


def test_zip_bomb_manifest(good):
    padding = b" " * (8 << 20)  # 8 MiB of spaces deflate to a few KB
    crafted = craft(
        good, "bomb.diffedit", {"project.json": members(good)["project.json"] + padding}
    )
    assert crafted.stat().st_size < 100_000
    refused(crafted, "project.json", "more than")


def test_zip_bomb_that_understates_its_size(good, monkeypatch):
    monkeypatch.setattr(project, "MAX_IMAGE_BYTES", 1 << 20)
    grey = Image.new("L", (4000, 4000))  # 16 MB of pixels, a few KB as a PNG
    buffer = io.BytesIO()
    grey.save(buffer, "PNG")
    crafted = craft(
        good, "liar.diffedit", {"current.png": buffer.getvalue()}, sizes={"current.png": 1000}
    )
    refused(crafted)


def test_image_members_past_their_limit(good, monkeypatch):
    monkeypatch.setattr(project, "MAX_IMAGE_BYTES", 100)
    refused(good, "original.png", "more than 100")


# -- the rest of the schema ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda m: m.update(seed=10**30), ["seed"]),
        (lambda m: m.update(seed=1.5), ["seed", "whole number"]),
        (lambda m: m.update(kept=10**9), ["kept"]),
        (lambda m: m.update(kept=3), ["kept/000.png"]),
        (lambda m: m.update(task="paint"), ["task"]),
        (lambda m: m.update(prompts={"move": ["a", "b"]}), ["prompts.move"]),
        (lambda m: m.update(prompts={"paste": "x" * 20_000}), ["prompts.paste", "10000"]),
        (lambda m: m.update(prompts={"drag": "a"}), ["prompts", "drag"]),  # drag reads move's
        (lambda m: m.update(prompts="a red square"), ["prompts", "object"]),
        (
            lambda m: m.update(prompt=["a", "b"], version=1, prompts=None) or m.pop("prompts"),
            ["prompt"],
        ),  # a version 1 file: one prompt
        (lambda m: m.update(masks=["object", "../../etc/passwd"]), ["masks"]),
        (lambda m: m.update(has_reference="yes"), ["has_reference"]),
        (lambda m: m.update(has_reference=True), ["reference.png"]),
        (lambda m: m.update(pairs=[{"handle": "here", "target": None}]), ["pairs[0].handle"]),
        (lambda m: m.update(pairs=[{"handle": [1, 2], "target": None}] * 101), ["pairs", "100"]),
        (lambda m: m["paste"].update(at=[1e308, 0]), ["paste.at"]),
        (lambda m: m["paste"].update(scale=0), ["paste.scale"]),
        (lambda m: m["box"].update(scale=float("nan")), ["box.scale"]),
        (lambda m: m["box"].update(dx=True), ["box.dx"]),
        (lambda m: m["box"].update(colour="red"), ["box", "colour"]),
        (lambda m: m["options"].update(eta_in=7), ["options.eta_in", "between 0 and 1"]),
        (lambda m: m["options"].update(flexibility=0.5), ["options", "flexibility"]),  # v3
        (lambda m: m["options"].update(steps=MAX_STEPS + 1), ["options.steps", str(MAX_STEPS)]),
        (lambda m: m["options"].update(resolution=10**6), ["options.resolution"]),
        (lambda m: m.update(options=[]), ["options"]),
        (lambda m: m.__delitem__("box"), ["box"]),
        (lambda m: m.update(version="1"), ["version"]),
        (lambda m: m.__delitem__("face_setup"), ["face_setup"]),
        (lambda m: m["face_setup"].update(chosen=-1), ["face_setup.chosen"]),
        (lambda m: m["face_setup"].update(groups=["ears"]), ["face_setup.groups"]),
        (lambda m: m["face_setup"]["sliders"].update(smile=3), ["face_setup.sliders.smile"]),
        (lambda m: m["face_setup"]["sliders"].update(chin=1), ["face_setup.sliders", "chin"]),
        (lambda m: m["face_setup"].update(dragged=[[68, 1, 1]]), ["face_setup.dragged[0]"]),
        (lambda m: m["face_setup"].update(dragged=[[3, "up"]]), ["face_setup.dragged[0]"]),
        (lambda m: m["face_setup"].update(dragged=[[3, 1e308, 0]]), ["face_setup.dragged[0]"]),
        (lambda m: m["face_setup"].update(dragged=[[0, 1, 1]] * 69), ["face_setup.dragged"]),
        (lambda m: m["face_setup"].update(reference="yes"), ["face_setup.reference"]),
        (lambda m: "{not json", ["not JSON"]),
    ],
)
def test_manifest_schema(good, change, fragments):
    refused(with_manifest(good, change), *fragments)


def test_members_that_are_not_images_or_of_another_size(good):
    refused(craft(good, "text.diffedit", {"current.png": b"hello"}), "current.png")
    small = io.BytesIO()
    Image.new("L", (10, 10)).save(small, "PNG")
    refused(
        craft(good, "small.diffedit", {"current.png": small.getvalue()}), "current.png", "10x10"
    )
    refused(craft(good, "mask.diffedit", {"masks/object.png": small.getvalue()}), "10x10")


def test_too_many_members(good, monkeypatch):
    monkeypatch.setattr(project, "MAX_MEMBERS", 3)
    refused(good, "members")
