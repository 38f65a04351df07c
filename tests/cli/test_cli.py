"""The `diffeditor` command as scripts use it: the README contract, exit codes, one-line
errors, outputs of the input's size that leave the input file and far pixels untouched."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffeditor_app.cli import build_parser, join_negative_values, main
from diffeditor_app.engine.imaging.compose import feather_width

REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 128, 96  # the tiny model works at 64x64: composing upscales
TOP, BOTTOM, LEFT, RIGHT = 30, 60, 40, 70  # the object's box in the test scene
README_JSON_KEYS = {
    "output",
    "width",
    "height",
    "device",
    "dtype",
    "seed",
    "steps",
    "resolution",
    "prepare_s",
    "edit_s",
    "unet_forward",
    "unet_backward",
    "prepare_unet_forward",
    "unet_work",
    "quality",
    "schedule",
}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).copy()


def picture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth gradient with some texture, so that edits have something to move; cheap
    enough for 8000 x 6000 (broadcast uint8 arithmetic, a tiled noise patch)."""
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[..., 0] = (np.arange(width) * 127 // max(width - 1, 1)).astype(np.uint8)[None, :]
    rgb[..., 1] = (np.arange(height) * 127 // max(height - 1, 1)).astype(np.uint8)[:, None]
    diagonal = (np.arange(width) % 128).astype(np.uint8)[None, :]
    rgb[..., 2] = (diagonal + (np.arange(height) % 128).astype(np.uint8)[:, None]) & 127
    patch = np.random.default_rng(seed).integers(0, 64, (61, 67, 3), dtype=np.uint8)
    reps = (-(-height // patch.shape[0]), -(-width // patch.shape[1]), 1)
    rgb += np.tile(patch, reps)[:height, :width]
    return rgb


@dataclass
class Scene:
    folder: Path
    image: Path
    mask: Path
    region: Path  # a drag region around the object

    def out(self, name: str = "out.png") -> Path:
        return self.folder / "results" / name


@pytest.fixture
def scene(tmp_path) -> Scene:
    image = tmp_path / "scene.png"
    Image.fromarray(picture(WIDTH, HEIGHT)).save(image)
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[TOP:BOTTOM, LEFT:RIGHT] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    region = np.zeros((HEIGHT, WIDTH), np.uint8)
    region[20:80, 30:100] = 255
    Image.fromarray(region).save(tmp_path / "region.png")
    return Scene(tmp_path, image, tmp_path / "mask.png", tmp_path / "region.png")


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def move_args(model: Path, scene: Scene, out: Path, *extra, steps: int = 4) -> list:
    common = ["--model", model, "--image", scene.image, "--mask", scene.mask, "--out", out]
    return ["edit", "move", *common, "--steps", steps, *extra]


def drag_args(model: Path, scene: Scene, out: Path, *extra, steps: int = 4) -> list:
    common = ["--model", model, "--image", scene.image, "--mask", scene.region, "--out", out]
    return ["edit", "drag", *common, "--steps", steps, *extra]


def assert_one_line_error(err: str, *fragments: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("diffeditor: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def unchanged_outside(before: np.ndarray, after: np.ndarray, box: tuple[int, int, int, int]):
    """Every pixel outside box = (top, bottom, left, right) is bit-identical."""
    top, bottom, left, right = box
    keep = np.ones(before.shape[:2], bool)
    keep[max(top, 0) : bottom, max(left, 0) : right] = False
    assert keep.any()
    np.testing.assert_array_equal(after[keep], before[keep])


# -- the README contract ---------------------------------------------------------------------


def test_contract_example_models_tiny_then_move_json(tmp_path, scene, capsys):
    model = tmp_path / "tiny-model"
    code, out, err = cli(capsys, "models", "tiny", model)
    assert code == 0, err
    assert (model / "unet").is_dir() and (model / "model_index.json").is_file()
    before = sha(scene.image), sha(scene.mask)
    result = scene.out("moved.png")

    code, out, err = cli(capsys, *move_args(model, scene, result, "--offset", "8,0", "--json"))
    assert code == 0, err
    assert "Traceback" not in err
    summary = json.loads(out)  # stdout is the JSON summary and nothing else
    assert set(summary) >= README_JSON_KEYS
    assert Path(summary["output"]) == result and result.is_file()
    with Image.open(result) as written:
        assert written.size == (WIDTH, HEIGHT) == (summary["width"], summary["height"])
        assert written.format == "PNG"
    assert summary["device"] == "cpu" and summary["dtype"] == "float32"
    assert summary["seed"] == 42 and summary["steps"] == 4
    assert summary["resolution"] == 64
    assert summary["prepare_s"] > 0 and summary["edit_s"] > 0
    assert summary["unet_forward"] > summary["prepare_unet_forward"] > 0
    assert summary["unet_backward"] > 0
    assert summary["unet_work"] > summary["unet_forward"] and summary["quality"] == "full"
    assert isinstance(summary["schedule"], dict)
    assert (sha(scene.image), sha(scene.mask)) == before

    # outside the feathered edit region the output is the input, bit for bit
    reach = 2 * feather_width(WIDTH, HEIGHT) + 2
    box = (TOP - reach, BOTTOM + reach, LEFT - reach, RIGHT + 8 + reach)
    source, edited = pixels(scene.image), pixels(result)
    unchanged_outside(source, edited, box)
    assert not np.array_equal(source[TOP:BOTTOM, LEFT:RIGHT], edited[TOP:BOTTOM, LEFT:RIGHT])


def test_negative_offset_works_spaced_and_joined(tiny_model_dir, scene, capsys):
    spaced, joined = scene.out("spaced.png"), scene.out("joined.png")
    code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, spaced, "--offset", "-8,0"))
    assert code == 0, err
    code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, joined, "--offset=-8,0"))
    assert code == 0, err
    np.testing.assert_array_equal(pixels(spaced), pixels(joined))
    # it really moved left: the pixels right of the moved box are untouched again
    unchanged_outside(pixels(scene.image), pixels(spaced), (0, HEIGHT, 0, RIGHT + 20))


def test_a_memory_preset_edits_like_the_default(tiny_model_dir, scene, capsys, monkeypatch):
    from diffeditor_app.engine.models import loading

    plans, place = [], loading.place_model

    def placing(model, device, plan) -> None:
        plans.append(plan.preset.value)
        place(model, device, plan)

    monkeypatch.setattr(loading, "place_model", placing)
    default, low = scene.out("default.png"), scene.out("low.png")
    for out, extra in ((default, []), (low, ["--vram", "low"])):
        code, _, err = cli(
            capsys, *move_args(tiny_model_dir, scene, out, "--offset", "8,0", *extra)
        )
        assert code == 0, err
    assert plans == ["high", "low"]  # auto on the CPU trades nothing
    difference = np.abs(pixels(default).astype(int) - pixels(low).astype(int))
    assert difference.max() <= 1  # the same edit, up to float rounding


@pytest.mark.parametrize(
    ("argv", "name", "value"),
    [
        (["--offset", "-8,0"], "offset", (-8.0, 0.0)),
        (["--offset", "-.5,-2"], "offset", (-0.5, -2.0)),
        (["--offset", "-0.5,3", "--scale", "-1"], "scale", -1.0),
        (["--offset", "1,1", "--ip-scale", "-3"], "ip_scale", -3.0),
    ],
)
def test_negative_values_parse_as_typed(argv, name, value):
    base = ["edit", "move", "--image", "a.png", "--mask", "m.png", "--out", "o.png"]
    args = build_parser().parse_args(join_negative_values(base + argv))
    assert getattr(args, name) == value


def test_drag_with_two_pairs_writes_one_preview_per_step(tiny_model_dir, scene, capsys):
    previews = scene.folder / "previews"
    result = scene.out("dragged.png")
    argv = drag_args(
        tiny_model_dir,
        scene,
        result,
        "--points",
        "50,40:60,40",
        "--points",
        "62,52:70,56",
        "--previews",
        previews,
        "--json",
    )
    code, out, err = cli(capsys, *argv)
    assert code == 0, err
    assert json.loads(out)["steps"] == 4
    names = sorted(p.name for p in previews.iterdir())
    assert names == [f"step_{i:03d}.png" for i in range(4)]
    for name in names:
        with Image.open(previews / name) as preview:
            preview.load()
            assert preview.mode == "RGB" and min(preview.size) > 0
    assert pixels(result).shape == (HEIGHT, WIDTH, 3)
    # the drag region is the edit region: far outside it nothing changed
    reach = 2 * feather_width(WIDTH, HEIGHT) + 2
    unchanged_outside(pixels(scene.image), pixels(result), (0, 80 + reach, 0, 100 + reach))


@pytest.mark.parametrize("task", ["move", "drag"])
def test_all_ones_mask_works(tiny_model_dir, scene, capsys, task):
    ones = scene.folder / "ones.png"
    Image.new("L", (WIDTH, HEIGHT), 255).save(ones)
    args = ["--model", tiny_model_dir, "--image", scene.image, "--mask", ones, "--steps", 4]
    extra = ["--offset", "8,0"] if task == "move" else ["--points", "40,40:48,44"]
    out = scene.out(f"{task}.png")
    code, _, err = cli(capsys, "edit", task, *args, *extra, "--out", out)
    assert code == 0, err
    with Image.open(out) as written:
        assert written.size == (WIDTH, HEIGHT)


def test_edit_never_writes_its_inputs(tiny_model_dir, scene, capsys):
    inputs = [scene.image, scene.mask]
    before = [(sha(p), p.stat().st_mtime_ns) for p in inputs]
    for extra in ([], ["--raw"]):
        out = scene.folder / f"next_to_input{len(extra)}.png"
        code, _, err = cli(
            capsys, *move_args(tiny_model_dir, scene, out, "--offset", "4,4", *extra)
        )
        assert code == 0, err
    assert [(sha(p), p.stat().st_mtime_ns) for p in inputs] == before
    with Image.open(scene.folder / "next_to_input1.png") as raw:
        assert raw.size == (64, 64)  # --raw writes the working-size decode


# -- bad input: exit 2, one line, no traceback ------------------------------------------------


def _write_small_mask(scene: Scene) -> Path:
    path = scene.folder / "small_mask.png"
    Image.new("L", (WIDTH // 2, HEIGHT), 255).save(path)
    return path


def _write_empty_mask(scene: Scene) -> Path:
    path = scene.folder / "empty_mask.png"
    Image.new("L", (WIDTH, HEIGHT), 0).save(path)
    return path


def _write_text_file(scene: Scene) -> Path:
    path = scene.folder / "notes.png"
    path.write_text("not a picture")
    return path


def _link_to_image(scene: Scene) -> Path:
    link = scene.folder / "link.png"
    link.symlink_to(scene.image)
    return link


# Each case: (task, replacements of the default arguments, extra arguments, message parts).
BAD_INPUT = {
    "missing image": ("move", {"--image": lambda s: s.folder / "nope.png"}, [], ["nope.png"]),
    "text as image": ("move", {"--image": _write_text_file}, [], ["notes.png", "not an image"]),
    "mask of another size": (
        "move",
        {"--mask": _write_small_mask},
        [],
        [f"{WIDTH // 2}x{HEIGHT}", f"{WIDTH}x{HEIGHT}"],
    ),
    "empty mask": ("move", {"--mask": _write_empty_mask}, [], ["empty"]),
    "point outside": ("drag", {}, ["--points", "50,40:500,40"], ["(500, 40)", "outside"]),
    "handles equal targets": (
        "drag",
        {},
        ["--points", "50,40:50,40", "--points", "60,50:60,50"],
        ["nothing to drag"],
    ),
    "points without colon": ("drag", {}, ["--points", "50,40"], ["HX,HY:TX,TY"]),
    "points not numbers": ("drag", {}, ["--points", "a,b:1,2"], ["two numbers"]),
    "offset not a pair": ("move", {"--offset": lambda s: "8"}, [], ["X,Y"]),
    "scale 0": ("move", {}, ["--scale", "0"], ["scale", "0.1", "4"]),
    "scale -1": ("move", {}, ["--scale", "-1"], ["scale", "-1"]),
    "scale 100": ("move", {}, ["--scale", "100"], ["scale", "100"]),
    "offset leaves the image": ("move", {"--offset": lambda s: "1000,0"}, [], ["outside"]),
    "offset not finite": ("move", {"--offset": lambda s: "nan,0"}, [], ["finite"]),
    "resolution 10000": ("move", {}, ["--resolution", "10000"], ["64", "256", "10000"]),
    "resolution 8": ("move", {}, ["--resolution", "8"], ["64", "256"]),
    "steps 0": ("move", {}, ["--steps", "0"], ["steps"]),
    "out is the input": ("move", {"--out": lambda s: s.image}, [], ["--out", "input"]),
    "out links to the input": ("move", {"--out": _link_to_image}, [], ["--out", "input"]),
    "out is the mask": ("move", {"--out": lambda s: s.mask}, [], ["--out", "mask"]),
    "out unknown extension": ("move", {"--out": lambda s: s.folder / "o.xyz"}, [], [".png"]),
    "out without extension": ("move", {"--out": lambda s: s.folder / "o"}, [], [".jpg"]),
    "unknown option": ("move", {}, ["--colour", "red"], ["--colour"]),
    "missing offset": ("move", {"--offset": None}, [], ["--offset"]),
    "cuda on a cpu machine": ("move", {}, ["--device", "cuda"], ["cuda"]),
    "unknown memory preset": ("move", {}, ["--vram", "huge"], ["--vram", "huge", "cpu-offload"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line(tiny_model_dir, scene, capsys, case):
    task, replace, extra, fragments = BAD_INPUT[case]
    if case == "cuda on a cpu machine":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA GPU is present")
    options = {
        "--model": tiny_model_dir,
        "--image": scene.image,
        "--mask": scene.mask if task == "move" else scene.region,
        "--out": scene.out(),
        "--steps": 4,
    }
    if task == "move":
        options["--offset"] = "8,0"
    for key, make in replace.items():
        if make is None:
            del options[key]
        else:
            options[key] = make(scene)
    argv = ["edit", task]
    for key, value in options.items():
        argv += [key, value]
    if task == "drag" and "--points" not in extra:
        argv += ["--points", "50,40:60,40"]
    watched = [p for p in scene.folder.iterdir() if p.is_file()]
    before = {p: sha(p) for p in watched}

    code, out, err = cli(capsys, *argv, *extra)

    assert code == 2, err
    assert out == ""
    assert_one_line_error(err, *fragments)
    assert {p: sha(p) for p in watched} == before  # no input was touched
    assert not scene.out().exists()


# -- models that cannot be loaded: non-zero, one sentence, fast --------------------------------


def _json_only_folder(folder: Path) -> Path:
    folder.mkdir()
    (folder / "random.json").write_text(json.dumps({"hello": "world"}))
    return folder


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda tmp: tmp / "empty-dir", id="empty folder"),
        pytest.param(lambda tmp: _json_only_folder(tmp / "json-only"), id="folder with a json"),
        pytest.param(lambda tmp: tmp / "no-such-folder" / "model", id="missing path"),
    ],
)
def test_model_that_is_not_a_model_fails_with_one_line(tmp_path, scene, capsys, make):
    model = make(tmp_path)
    if model.name == "empty-dir":
        model.mkdir()
    argv = move_args(model, scene, scene.out(), "--offset", "8,0")
    code, out, err = cli(capsys, *argv)
    assert code != 0
    assert out == ""
    assert_one_line_error(err, model.name)
    assert not scene.out().exists()


@pytest.mark.parametrize(
    ("model", "offline", "extra", "reason"),
    [
        (None, "1", [], "offline mode is on"),  # the default: the SD1.5 hub id
        ("someone/not-cached-model", "1", [], "offline mode is on"),
        ("someone/not-cached-model", "0", ["--no-download"], "downloading is off"),
    ],
)
def test_uncached_hub_model_offline_fails_fast_naming_the_repo(
    tmp_path, scene, capsys, monkeypatch, model, offline, extra, reason, connections
):
    import huggingface_hub.constants as hub_constants

    from diffeditor_app.engine.models.model import SD15_HUB_ID

    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    # huggingface_hub reads the cache location once, at import: point it at the empty one too
    monkeypatch.setattr(hub_constants, "HF_HOME", str(home))
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    argv = ["edit", "move", "--image", scene.image, "--mask", scene.mask, "--offset", "8,0"]
    argv += ["--out", scene.out(), *extra]
    if model is not None:
        argv += ["--model", model]
    code, out, err = cli(capsys, *argv)

    assert code == 1
    assert out == ""
    line = assert_one_line_error(err, model or SD15_HUB_ID, "cache", reason)
    assert line.count(". ") == 0 and line.rstrip().endswith(".")  # one sentence
    assert connections == []  # fast: the cache was asked, the hub never
    assert not scene.out().exists()


# -- big images, alpha, formats --------------------------------------------------------------


def test_huge_image_edits_at_working_size_and_keeps_far_pixels(tiny_model_dir, tmp_path, capsys):
    width, height = 8000, 6000
    source = picture(width, height, seed=1)
    image = tmp_path / "huge.bmp"  # uncompressed: writing the input is not what is timed
    Image.fromarray(source).save(image)
    mask = np.zeros((height, width), np.uint8)
    top, bottom, left, right = 2000, 3000, 3000, 4200
    mask[top:bottom, left:right] = 255
    Image.fromarray(mask).save(tmp_path / "huge_mask.png", compress_level=1)
    out = tmp_path / "huge_out.bmp"
    argv = ["edit", "move", "--model", tiny_model_dir, "--image", image]
    argv += ["--mask", tmp_path / "huge_mask.png", "--offset=-400,150", "--steps", 4]
    argv += ["--out", out, "--json"]

    code, stdout, err = cli(capsys, *argv)

    assert code == 0, err
    summary = json.loads(stdout)
    assert (summary["width"], summary["height"]) == (width, height)
    assert summary["resolution"] == 64
    edited = pixels(out)
    assert edited.shape == (height, width, 3)
    reach = 2 * feather_width(width, height) + 2
    box = (top - reach, bottom + 150 + reach, left - 400 - reach, right + reach)
    unchanged_outside(source, edited, box)
    assert not np.array_equal(edited[top:bottom, left:right], source[top:bottom, left:right])


@pytest.fixture
def rgba_scene(scene) -> tuple[Scene, np.ndarray]:
    alpha = np.tile(np.linspace(0, 255, WIDTH).astype(np.uint8), (HEIGHT, 1))
    alpha[:10] = 0  # a fully transparent band, too
    rgba = np.dstack([picture(WIDTH, HEIGHT), alpha])
    Image.fromarray(rgba, "RGBA").save(scene.image)
    return scene, alpha


def test_rgba_input_keeps_its_alpha_channel(tiny_model_dir, rgba_scene, capsys):
    scene, alpha = rgba_scene
    out = scene.out("rgba.png")
    code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, out, "--offset", "8,0"))
    assert code == 0, err
    with Image.open(out) as written:
        assert written.mode == "RGBA"
        result = np.asarray(written)
    outside = far_from((TOP, BOTTOM, LEFT, RIGHT + 8), alpha.shape)
    np.testing.assert_array_equal(result[..., 3][outside], alpha[outside])  # bit-exact
    moved = alpha[TOP + 4 : BOTTOM - 4, LEFT + 4 : RIGHT - 4]  # the object's own alpha ...
    assert (result[TOP + 4 : BOTTOM - 4, LEFT + 12 : RIGHT + 4, 3] >= moved).all()  # ... moved


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".webp", ".tif", ".bmp"])
def test_rgba_input_to_other_formats(tiny_model_dir, rgba_scene, capsys, suffix):
    scene, _ = rgba_scene
    out = scene.out(f"result{suffix}")
    code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, out, "--offset", "8,0"))
    assert code == 0, err
    with Image.open(out) as written:
        assert written.size == (WIDTH, HEIGHT)
        notes = err.strip().splitlines()
        if suffix in {".jpg", ".jpeg", ".bmp"}:
            assert written.mode == "RGB"  # alpha dropped ...
            assert any("alpha" in line for line in notes), err  # ... and it says so
            if suffix != ".bmp":
                assert written.format == "JPEG"
                assert any("lossy" in line for line in notes), err
        else:
            assert written.mode == "RGBA"


# -- unexpected errors -----------------------------------------------------------------------


@pytest.fixture
def broken_editor(monkeypatch):
    from diffeditor_app.engine.editor import Editor

    def explode(self, request, on_step=None):
        raise RuntimeError("the sampler exploded")

    monkeypatch.setattr(Editor, "edit", explode)


def test_unexpected_error_with_debug_prints_the_traceback(
    tiny_model_dir, scene, capsys, broken_editor
):
    argv = move_args(tiny_model_dir, scene, scene.out(), "--offset", "8,0", "--debug")
    code, _, err = cli(capsys, *argv)
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: the sampler exploded" in err
    assert "explode" in err  # the frame that raised is in the traceback
    assert not scene.out().exists()


def test_unexpected_error_without_debug_has_no_traceback(
    tiny_model_dir, scene, capsys, broken_editor
):
    code, out, err = cli(capsys, *move_args(tiny_model_dir, scene, scene.out(), "--offset", "8,0"))
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert "the sampler exploded" in err
    assert "--debug" in err
    assert not scene.out().exists()


# -- the real entry points -----------------------------------------------------------------


def _environment() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    env.pop("PYTHONWARNINGS", None)
    return env


def test_module_entry_point_runs_an_edit(tiny_model_dir, scene):
    out = scene.out("sub.png")
    argv = [str(a) for a in move_args(tiny_model_dir, scene, out, "--offset=-8,0", "--json")]
    done = subprocess.run(
        [sys.executable, "-m", "diffeditor_app.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=_environment(),
        cwd=scene.folder,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    assert (summary["width"], summary["height"]) == (WIDTH, HEIGHT)
    assert pixels(out).shape == (HEIGHT, WIDTH, 3)


def test_console_script_reports_bad_input_with_exit_2(scene):
    script = Path(sys.executable).with_name("diffeditor")
    if not script.is_file():
        pytest.skip("the diffeditor console script is not installed in this environment")
    argv = ["edit", "move", "--image", str(scene.folder / "nope.png"), "--mask", str(scene.mask)]
    argv += ["--offset", "-8,0", "--out", str(scene.out())]
    done = subprocess.run(
        [str(script), *argv], capture_output=True, text=True, timeout=120, env=_environment()
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert_one_line_error(done.stderr, "nope.png")


# -- files in, files out: nothing the user gave is written ----------------------------------


@pytest.fixture
def no_model_load(monkeypatch):
    """Fails the test if the command gets as far as loading a model."""
    import diffeditor_app.engine as engine

    def refuse(spec):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(engine, "load_model", refuse)


def test_previews_folder_holding_the_input_never_overwrites_it(tiny_model_dir, scene, capsys):
    folder = scene.folder / "previews"
    folder.mkdir()
    image = folder / "step_000.png"
    scene.image.rename(image)
    scene.image = image
    before = sha(image)
    argv = move_args(tiny_model_dir, scene, scene.out(), "--offset", "8,0", "--previews", folder)
    code, _, err = cli(capsys, *argv)
    assert code == 2, err
    assert_one_line_error(err, "--previews", "step_000.png")
    assert sha(image) == before
    assert not scene.out().exists()


def test_previews_never_replace_a_file_this_run_did_not_create(tiny_model_dir, scene, capsys):
    folder = scene.folder / "previews"
    folder.mkdir()
    (folder / "step_002.png").write_bytes(b"someone else's file")
    argv = move_args(tiny_model_dir, scene, scene.out(), "--offset", "8,0", "--previews", folder)
    code, _, err = cli(capsys, *argv)
    assert code == 2, err
    assert_one_line_error(err, "step_002.png")
    assert (folder / "step_002.png").read_bytes() == b"someone else's file"


def _hard_link_to_mask(scene: Scene) -> Path:
    link = scene.folder / "hard.png"
    os.link(scene.mask, link)
    return link


def _file_as_folder(scene: Scene) -> Path:
    blocker = scene.folder / "blocker"
    blocker.write_text("a file, not a folder")
    return blocker / "out.png"


@pytest.mark.parametrize(
    ("make", "extra", "fragments"),
    [
        pytest.param(_hard_link_to_mask, [], ["--out", "mask"], id="out hard-links the mask"),
        pytest.param(_file_as_folder, [], ["--out", "blocker"], id="out inside a file"),
        pytest.param(
            lambda s: s.folder / "new" / ".." / s.image.name,
            [],
            ["--out", "input"],
            id="out through a folder yet to be made",
        ),
        pytest.param(
            lambda s: s.out(),
            ["--previews", "{mask}"],
            ["--previews", "not a folder"],
            id="previews is a file",
        ),
        pytest.param(
            lambda s: s.out(), ["--seed", "9" * 23], ["seed", "2147483647"], id="huge seed"
        ),
        pytest.param(lambda s: s.out(), ["--seed", "-1"], ["seed"], id="negative seed"),
        pytest.param(lambda s: s.out(), ["--device", "mps"], ["mps"], id="unknown device"),
        pytest.param(lambda s: s.out(), ["--steps", "9" * 30], ["steps"], id="huge steps"),
        pytest.param(
            lambda s: s.out(),
            ["--steps", "9" * 30, "--previews", "{folder}/previews"],
            ["steps"],
            id="huge steps with previews",
        ),
        pytest.param(
            lambda s: s.out(), ["--resolution", "9" * 30], ["resolution"], id="huge resolution"
        ),
    ],
)
def test_output_and_argument_errors_come_before_the_model(
    scene, capsys, no_model_load, make, extra, fragments
):
    out = make(scene)
    extra = [str(e).format(mask=scene.mask, folder=scene.folder) for e in extra]
    argv = move_args(Path("toy"), scene, out, "--offset", "8,0", *extra)
    before = {p: sha(p) for p in scene.folder.iterdir() if p.is_file()}
    code, stdout, err = cli(capsys, *argv)
    assert code == 2, err
    assert stdout == ""
    assert_one_line_error(err, *fragments)
    assert {p: sha(p) for p in scene.folder.iterdir() if p.is_file()} == before


@pytest.mark.parametrize(
    "argv",
    [
        ["models", "tiny", "folder", "--seed", "9" * 23],
        ["train-image-prompt", "--data", ".", "--out", "w.safetensors", "--seed", "-5"],
    ],
    ids=["models tiny", "train-image-prompt"],
)
def test_every_command_refuses_a_huge_seed_with_exit_2(tmp_path, capsys, argv):
    code, _, err = cli(capsys, *argv)
    assert code == 2, err
    assert_one_line_error(err, "seed")
    assert not (tmp_path / "folder").exists()


@pytest.mark.parametrize("offset", ["1e308,0", "0,-1e308", "1e300,1e300"])
def test_huge_numbers_are_one_line_and_no_warning(scene, capsys, no_model_load, offset):
    import warnings

    argv = move_args(Path("toy"), scene, scene.out(), "--offset", offset)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy overflow warning would become an exit 1
        code, _, err = cli(capsys, *argv)
    assert code == 2, err
    assert_one_line_error(err, "offset")


# -- what comes out keeps what went in ---------------------------------------------------------


def far_from(box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    """Pixels farther than the dilation and feather from box = (top, bottom, left, right)."""
    reach = 2 * feather_width(WIDTH, HEIGHT) + 2
    top, bottom, left, right = box
    keep = np.ones(shape, bool)
    keep[max(top - reach, 0) : bottom + reach, max(left - reach, 0) : right + reach] = False
    return keep


def test_moved_object_carries_its_alpha_into_a_transparent_area(tiny_model_dir, scene, capsys):
    alpha = np.zeros((HEIGHT, WIDTH), np.uint8)
    alpha[:, :76] = 255  # opaque left part holding the object, transparent right part
    Image.fromarray(np.dstack([picture(WIDTH, HEIGHT), alpha]), "RGBA").save(scene.image)
    out = scene.out("moved.png")
    code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, out, "--offset", "40,0"))
    assert code == 0, err
    written = pixels(out)[..., 3]
    assert (written[TOP + 4 : BOTTOM - 4, LEFT + 44 : RIGHT + 36] == 255).all()  # placed: opaque
    assert (written[TOP + 4 : BOTTOM - 4, LEFT + 4 : RIGHT - 4] == 255).all()  # vacated: opaque
    outside = far_from((TOP, BOTTOM, LEFT, RIGHT + 40), alpha.shape)
    np.testing.assert_array_equal(written[outside], alpha[outside])  # bit-exact elsewhere


def test_webp_output_is_lossless_outside_the_edit(tiny_model_dir, scene, capsys):
    out = scene.out("moved.webp")
    code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, out, "--offset", "8,0"))
    assert code == 0, err
    assert "lossy" not in err
    unchanged_outside(pixels(scene.image), pixels(out), (TOP - 20, BOTTOM + 20, 0, WIDTH))


def test_exif_icc_and_dpi_are_kept_with_the_orientation_reset(tiny_model_dir, scene, capsys):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 1  # orientation
    exif[0x010F] = "Test Camera Co."  # make
    exif[0x0131] = "the input's software"
    with Image.open(scene.image) as source:
        source.save(scene.image, exif=exif, icc_profile=icc, dpi=(300, 300))
    for suffix in (".png", ".jpg", ".tif"):
        out = scene.out(f"kept{suffix}")
        code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, out, "--offset", "8,0"))
        assert code == 0, err
        with Image.open(out) as written:
            tags = written.getexif()
            assert tags.get(0x010F) == "Test Camera Co.", suffix
            assert tags.get(0x0112, 1) == 1, suffix
            assert written.info.get("icc_profile") == icc, suffix
            assert tuple(round(v) for v in written.info["dpi"]) == (300, 300), suffix


def test_rotated_jpeg_keeps_exif_with_orientation_reset(tiny_model_dir, scene, capsys):
    rotated = scene.folder / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Test Camera Co."
    with Image.open(scene.image) as source:
        source.transpose(Image.Transpose.ROTATE_90).save(rotated, exif=exif, quality=95)
    scene.image = rotated
    out = scene.out("upright.png")
    code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, out, "--offset", "8,0"))
    assert code == 0, err
    with Image.open(out) as written:
        assert written.size == (WIDTH, HEIGHT)
        tags = written.getexif()
        assert tags.get(0x010F) == "Test Camera Co." and tags.get(0x0112, 1) == 1


def test_16_bit_input_gives_16_bit_output_exact_outside_the_edit(tiny_model_dir, scene, capsys):
    deep = (picture(WIDTH, HEIGHT)[..., 0].astype(np.uint16) * 257) + np.uint16(77)
    Image.fromarray(deep).save(scene.image)
    for suffix in (".png", ".tif"):
        out = scene.out(f"deep{suffix}")
        code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, out, "--offset", "8,0"))
        assert code == 0, err
        with Image.open(out) as written:
            assert written.mode.startswith("I;16"), (suffix, written.mode)
            result = np.asarray(written)
        unchanged_outside(deep, result, (TOP - 20, BOTTOM + 20, 0, WIDTH))
    code, _, err = cli(
        capsys, *move_args(tiny_model_dir, scene, scene.out("flat.jpg"), "--offset", "8,0")
    )
    assert code == 0 and "16 bits" in err, err


def test_animated_input_says_only_its_first_frame_was_edited(tiny_model_dir, scene, capsys):
    frames = [Image.fromarray(picture(WIDTH, HEIGHT, seed=s)) for s in range(3)]
    animated = scene.folder / "animated.gif"
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=100)
    scene.image = animated
    code, _, err = cli(capsys, *move_args(tiny_model_dir, scene, scene.out(), "--offset", "8,0"))
    assert code == 0, err
    notes = err.strip().splitlines()
    assert any("animated" in line and "3 frames" in line for line in notes), err


def test_fast_quality_runs_fewer_steps_and_reports_its_work(tiny_model_dir, scene, capsys):
    summaries = {}
    for quality in ("full", "fast"):
        result = scene.out(f"{quality}.png")
        extra = ("--offset", "8,0", "--json", "--quality", quality)
        argv = move_args(tiny_model_dir, scene, result, *extra, steps=10)
        code, out, err = cli(capsys, *argv)
        assert code == 0, err
        summaries[quality] = json.loads(out)
    full, fast = summaries["full"], summaries["fast"]
    assert (full["quality"], fast["quality"]) == ("full", "fast")
    assert (full["steps"], fast["steps"], fast["schedule"]["steps"]) == (10, 3, 3)
    assert full["unet_work"] == 54  # tests/engine/test_fast_mode.py counts it by hand
    assert 0 < fast["unet_work"] < full["unet_work"]


def test_an_unknown_quality_is_refused(tiny_model_dir, scene, capsys):
    argv = move_args(
        tiny_model_dir, scene, scene.out("x.png"), "--offset", "8,0", "--quality", "best"
    )
    code, _, err = cli(capsys, *argv)
    assert code != 0 and "--quality" in err and "full" in err and "fast" in err
