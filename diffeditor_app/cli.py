"""The `diffeditor` command: the GUI by default, headless subcommands for scripts.

    diffeditor edit TASK --image IN [the task's own arguments] --out OUT
        (`diffeditor edit --help` lists the tasks, `diffeditor edit TASK --help` their arguments)
    diffeditor mask --image IN (--click X,Y | --negative X,Y | --box X0,Y0,X1,Y1)... --out MASK
    diffeditor landmarks --image IN [--json]  (the face extra; face_cli.py, with `edit face`'s
        reference face, sliders and points file)
    diffeditor models tiny DIR
    diffeditor serve [--host 127.0.0.1] [--port 8765] [--model SPEC] [--replicas N]

Exit codes: 0 done; 2 bad input (one line on stderr); 1 anything else (a message; the
traceback only with --debug).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import sys
import traceback
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_NEGATIVE_VALUE = re.compile(r"^-\.?\d")  # -8,0  -0.5  -.5


class BadArguments(Exception):
    """A command-line value that cannot be parsed; exits with code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors also mean bad input
        raise BadArguments(message)


def join_negative_values(argv: list[str]) -> list[str]:
    """`--offset -8,0` -> `--offset=-8,0`: argparse would read -8,0 as an unknown option."""
    joined: list[str] = []
    for token in argv:
        if (
            joined
            and joined[-1].startswith("--")
            and "=" not in joined[-1]
            and _NEGATIVE_VALUE.match(token)
        ):
            joined[-1] = f"{joined[-1]}={token}"
        else:
            joined.append(token)
    return joined


def _finite(text: str) -> float:
    """A number as typed: nan and inf are refused here, not echoed back as something else."""
    from diffeditor_app.engine.errors import quoted

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a finite number")
    return value


def _numbers(text: str, count: int, shape: str) -> tuple[float, ...]:
    """`count` comma-separated finite numbers, such as X,Y."""
    from diffeditor_app.engine.errors import quoted

    parts = text.split(",")
    if len(parts) != count:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not {shape}")
    try:
        return tuple(_finite(part) for part in parts)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not {shape}: {error}") from None


def _pair(text: str) -> tuple[float, float]:
    x, y = _numbers(text, 2, "X,Y (two numbers)")
    return x, y


def _whole(text: str) -> int:
    """A whole number as typed; an edit's request checks its range (limits.py), once."""
    from diffeditor_app.engine.errors import quoted

    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a whole number") from None


def _seed(text: str) -> int:
    """The seed of a command that builds no edit request (training, a tiny model), in the
    range of every seed of the app (limits.SEED_RANGE); torch overflows far past it."""
    from diffeditor_app.engine.errors import InvalidInput
    from diffeditor_app.engine.limits import check_seed

    value = _whole(text)
    try:
        check_seed(value)
    except InvalidInput as error:
        sentence = str(error).rstrip(".")
        raise argparse.ArgumentTypeError(sentence[0].lower() + sentence[1:]) from None
    return value


def _box(text: str) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = _numbers(text, 4, "X0,Y0,X1,Y1 (four numbers)")
    return x0, y0, x1, y1


def _radius(text: str) -> float:
    value = _finite(text)
    if not 0 <= value <= 500:
        raise argparse.ArgumentTypeError(f"a radius must be 0..500 pixels, got {value:g}")
    return value


def _points(text: str) -> tuple[tuple[float, float], tuple[float, float]]:
    from diffeditor_app.engine.errors import quoted

    handle, sep, target = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not HX,HY:TX,TY")
    return _pair(handle), _pair(target)


def _add_field_argument(command: argparse.ArgumentParser, field) -> None:
    """One option of a task's subcommand, from a `WireField` of its request."""
    from diffeditor_app.engine.requests import Kind

    types = {
        Kind.IMAGE: Path,
        Kind.MASK: Path,
        Kind.PAIR: _pair,
        Kind.NUMBER: _finite,
        Kind.TEXT: str,
        Kind.POINT_PAIRS: _points,
        Kind.BOX: _box,
        Kind.CHOICE: str,  # checked against the choices, then made the enum by `_chosen`
    }
    options = dict(dest=field.name, type=types[field.kind], help=field.help)
    if field.kind is Kind.POINT_PAIRS:
        options["action"] = "append"
    if field.kind is Kind.CHOICE:  # argparse names the choices when it refuses a value
        options["choices"] = [choice.value for choice in field.choices]
    if field.required:
        options["required"] = True
    elif field.kind is Kind.CHOICE:  # argparse passes a str default through `type` (str)
        options["default"] = field.default.value
    elif field.kind is Kind.POINT_PAIRS:  # append needs a list: None is "none given"
        options["default"] = None
    else:
        options["default"] = field.default
    command.add_argument(field.flag, **options)


def _chosen(field, given):
    """A choice's value as its enum member (argparse has checked it); any other value as given."""
    from diffeditor_app.engine.requests import Kind

    return field.choices(given) if field.kind is Kind.CHOICE else given


def build_parser() -> argparse.ArgumentParser:
    """Every default and choice comes from the engine's own declarations: the task registry
    (each task's subcommand and arguments), the model-spec and training dataclasses, the
    dtype list and the memory presets."""
    from diffeditor_app.engine.limits import DEFAULT_SEED, DEFAULT_STEPS
    from diffeditor_app.engine.models.memory import VramPreset
    from diffeditor_app.engine.models.model import DTYPES, ModelSpec
    from diffeditor_app.engine.models.training import TrainingConfig
    from diffeditor_app.engine.requests import EditRequest, wire_fields
    from diffeditor_app.engine.tasks.registry import TASKS, Task
    from diffeditor_app.face_cli import add_face_sources, add_landmarks_parser

    parser = _Parser(prog="diffeditor", description="Fine-grained diffusion image editing.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--demo", action="store_true", help="open the GUI on the demo model")
    parser.add_argument(
        "--self-test", action="store_true", help="a 3-step edit offscreen on the toy model"
    )
    parser.add_argument("--model", default=None, help="model for the GUI (default: settings)")
    parser.add_argument("--image", type=Path, default=None, help="image to open in the GUI")
    parser.add_argument(
        "--screenshot", type=Path, default=None, help="render the window offscreen to a PNG"
    )
    parser.add_argument(
        "--task",
        default=next(iter(TASKS)).value,
        choices=[task.value for task in TASKS],
        help="task shown by --screenshot",
    )
    parser.add_argument(
        "--edit", action="store_true", help="with --screenshot: run the edit and show its result"
    )
    commands = parser.add_subparsers(dest="command")

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks")
    common.add_argument("--image", required=True, type=Path, help="input image")
    common.add_argument("--out", required=True, type=Path, help="output image (new file)")
    common.add_argument("--model", default=None, help="folder, .safetensors/.ckpt or hub id")
    common.add_argument(
        "--prompt",
        default="",
        help="what the image shows; for a two-image task, what the result should show",
    )
    common.add_argument("--seed", type=_whole, default=DEFAULT_SEED)  # checked with the request
    common.add_argument("--steps", type=_whole, default=DEFAULT_STEPS)
    shared = {field.name: field for field in wire_fields(EditRequest)}
    _add_field_argument(common, shared["quality"])
    common.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="working resolution (default: the model's, 768 for SD1.5)",
    )
    common.add_argument("--device", default=ModelSpec.device, help="auto, cuda or cpu")
    common.add_argument("--dtype", default=ModelSpec.dtype, choices=DTYPES)
    common.add_argument(
        "--vram",
        default=ModelSpec.vram_preset,
        choices=[preset.value for preset in VramPreset],
        help="GPU memory preset: what to trade for memory (auto: from the free GPU memory)",
    )
    common.add_argument("--raw", action="store_true", help="write the working-size decode")
    common.add_argument("--previews", type=Path, help="write step_000.png ... here")
    common.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    common.add_argument(
        "--no-download",
        action="store_true",
        help="never download weights; use the Hugging Face cache only",
    )
    common.add_argument(
        "--image-prompt", default=None, help="image-prompt weights (file, folder, hub id) or none"
    )
    common.add_argument("--image-encoder", default=None, help="CLIP vision folder or hub id")
    common.add_argument("--ip-scale", type=_finite, default=None, help="image-prompt scale gamma")
    common.add_argument(
        "--server",
        default=None,
        help="run the edit on a `diffeditor serve` server at this URL (token: DIFFEDITOR_TOKEN)",
    )

    edit = commands.add_parser("edit", help="edit an image headless").add_subparsers(
        dest="task", required=True, parser_class=_Parser
    )
    for task, spec in TASKS.items():  # each task's arguments are its request's own fields
        command = edit.add_parser(task.value, parents=[common], help=spec.summary)
        for field in spec.own_fields():
            _add_field_argument(command, field)
        if task is Task.FACE:  # its points also from a face's landmarks (face_cli.py)
            add_face_sources(command)

    train = commands.add_parser(
        "train-image-prompt", help="train the image-prompt encoder (paper Eq. 6)"
    )
    train.add_argument("--data", required=True, type=Path, help="folder of images (+ NAME.txt)")
    train.add_argument("--model", default=None, help="the frozen base model")
    train.add_argument("--out", required=True, type=Path, help="weights file (.safetensors)")
    config = TrainingConfig  # the defaults of a training run
    train.add_argument("--steps", type=int, default=config.steps)
    train.add_argument("--batch", type=int, default=config.batch)
    train.add_argument("--lr", type=_finite, default=config.lr)
    train.add_argument("--drop", type=_finite, default=config.drop, help="zero-image dropout rate")
    train.add_argument("--drop-text", type=_finite, default=config.drop_text, help="empty captions")
    train.add_argument("--resume", type=Path, default=None, help="checkpoint to continue from")
    train.add_argument("--checkpoint-every", type=int, default=config.checkpoint_every)
    train.add_argument("--seed", type=_seed, default=config.seed)
    train.add_argument("--resolution", type=int, default=config.resolution)
    train.add_argument("--device", default=config.device)
    train.add_argument("--dtype", default=config.dtype, choices=DTYPES)
    train.add_argument("--image-encoder", default=None, help="CLIP vision folder or hub id")
    for flag, name in (
        ("--resampler-width", "resampler_width"),
        ("--resampler-depth", "resampler_depth"),
        ("--image-tokens", "image_tokens"),
    ):
        train.add_argument(flag, type=int, default=getattr(config, name), help="fresh weights only")
    train.add_argument("--debug", action="store_true", help="show tracebacks")

    mask = commands.add_parser("mask", help="select an object: write its mask")
    mask.add_argument("--image", required=True, type=Path, help="input image")
    mask.add_argument("--out", required=True, type=Path, help="mask image to write (L, 0/255)")
    mask.add_argument("--click", action="append", type=_pair, default=[], help="X,Y on the object")
    mask.add_argument(
        "--negative", action="append", type=_pair, default=[], help="X,Y not on the object"
    )
    mask.add_argument(
        "--box", action="append", type=_box, default=[], help="X0,Y0,X1,Y1 around the object"
    )
    mask.add_argument("--method", default="auto", choices=["auto", "wand", "grabcut", "sam"])
    mask.add_argument("--tolerance", type=int, default=None, help="wand: 0..255 (32)")
    mask.add_argument("--everywhere", action="store_true", help="wand: not only contiguous")
    mask.add_argument(
        "--sam-model", default=None, help="SAM folder or hub id (facebook/sam-vit-base)"
    )
    mask.add_argument("--device", default="auto", help="auto, cuda or cpu (SAM)")
    mask.add_argument("--no-download", action="store_true", help="never download SAM weights")
    mask.add_argument("--grow", type=_radius, default=0.0, help="then grow by this many pixels")
    mask.add_argument("--shrink", type=_radius, default=0.0, help="then shrink by this many pixels")
    mask.add_argument("--feather", type=_radius, default=0.0, help="then smooth the outline")
    mask.add_argument("--fill-holes", action="store_true", help="then fill enclosed holes")
    mask.add_argument("--invert", action="store_true", help="finally invert")
    mask.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    mask.add_argument("--debug", action="store_true", help="show tracebacks")

    add_serve_parser(commands)
    add_landmarks_parser(commands)

    models = commands.add_parser("models", help="model utilities").add_subparsers(
        dest="models_command", required=True, parser_class=_Parser
    )
    tiny = models.add_parser("tiny", help="write a tiny random model (offline, seconds)")
    tiny.add_argument("folder", type=Path)
    tiny.add_argument("--seed", type=_seed, default=0)
    tiny.add_argument("--debug", action="store_true", help="show tracebacks")
    convert = models.add_parser("convert", help="image-prompt weights .bin -> .safetensors")
    convert.add_argument("source", type=Path)
    convert.add_argument("target", type=Path)
    convert.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def given_files(args: argparse.Namespace) -> dict[str, Path]:
    """Every file the edit reads, as named in messages ("the reference mask")."""
    from diffeditor_app.engine.requests import Kind
    from diffeditor_app.engine.tasks.registry import Task, spec_of

    given = {"the input image": args.image}
    for field in spec_of(Task(args.task)).own_fields():
        if field.kind in (Kind.IMAGE, Kind.MASK) and getattr(args, field.name) is not None:
            given[f"the {field.what}"] = getattr(args, field.name)
    return given


def _check_files(args: argparse.Namespace) -> None:
    """The output and the previews folder, checked before anything is loaded: no given file
    is ever written, and a bad path is reported before the edit, not after it."""
    from diffeditor_app.engine.imaging.outputs import UserFiles
    from diffeditor_app.engine.limits import MAX_STEPS

    files = UserFiles(given_files(args))
    files.check_output(args.out)
    if args.previews is not None:  # steps past MAX_STEPS are refused with the request
        files.check_previews(args.previews, min(max(args.steps, 0), MAX_STEPS))


def run_edit(args: argparse.Namespace) -> int:
    from diffeditor_app.engine import Editor, ModelSpec, load_image, load_mask, load_model
    from diffeditor_app.engine.imaging.outputs import (
        export_image,
        plan_export,
        preview_name,
        write_preview,
    )
    from diffeditor_app.engine.models.loading import check_device, declared_profile
    from diffeditor_app.engine.models.model import SD15_HUB_ID
    from diffeditor_app.engine.requests import EditRequest, Kind, wire_fields
    from diffeditor_app.engine.tasks.registry import Task, request_for, spec_of

    _check_files(args)
    shared = {field.name: field for field in wire_fields(EditRequest)}
    check_device(args.device)
    if args.resolution is not None:
        declared_profile(args.model or SD15_HUB_ID).check_resolution(args.resolution)
    image = load_image(args.image)
    common = dict(
        image=image,
        prompt=args.prompt,
        seed=args.seed,
        steps=args.steps,
        quality=_chosen(shared["quality"], args.quality),
        resolution=args.resolution,
        raw=args.raw,
        image_prompt=args.image_prompt != "none",
        overrides={} if args.ip_scale is None else {"ip_scale": args.ip_scale},
    )
    task = Task(args.task)
    pictures = {"image": image}  # the images read so far, by field: their masks' sizes
    own = {}
    for field in spec_of(task).own_fields():
        given = getattr(args, field.name)
        if field.kind is Kind.POINT_PAIRS and given is None:
            continue  # none given: the request's default (the face finds its own)
        if field.kind is Kind.IMAGE:
            pictures[field.name] = own[field.name] = load_image(given)
        elif field.kind is Kind.MASK and given is not None:
            own[field.name] = load_mask(given, pictures[field.sized_like].size, field.what)
        else:
            own[field.name] = _chosen(field, given)
    if task is Task.FACE:  # the points of a reference face, the sliders or a points file
        from diffeditor_app.face_cli import face_values

        own.update(face_values(args, image, own))
    request = request_for(task, **own, **common)
    request.checked()  # before the model loads: bad input fails in a moment
    source = None if args.raw else image  # a raw result has the working size, far below limits
    plan = plan_export(args.out, None if args.raw else image.size, source)  # before, not after
    spec = ModelSpec(
        args.model or SD15_HUB_ID,
        args.device,
        args.dtype,
        allow_download=not args.no_download,
        image_prompt=args.image_prompt,
        image_encoder=args.image_encoder,
        vram_preset=args.vram,
    )
    if args.server and args.model:
        print(
            "diffeditor: note: --model is ignored with --server (the server's model runs).",
            file=sys.stderr,
        )
    editor = remote_editor(args.server) if args.server else Editor(load_model(spec))
    on_step = None
    if args.previews:
        args.previews.mkdir(parents=True, exist_ok=True)

        def on_step(info) -> None:
            write_preview(info.preview, args.previews / preview_name(info.step))

    result = editor.edit(request, on_step=on_step)  # no budget: every step is decoded
    for note in result.notes:
        print(note, file=sys.stderr)
    picture = result.image
    for note in export_image(picture, args.out, source=source, plan=plan):
        print(note, file=sys.stderr)
    out = args.out
    if args.json:
        summary = {
            "output": str(out),
            "width": picture.width,
            "height": picture.height,
            "device": result.device,
            "dtype": result.dtype,
            "seed": result.seed,
            "steps": result.steps,
            "quality": result.quality,
            "resolution": result.resolution,
            "prepare_s": round(result.prepare_s, 4),
            "edit_s": round(result.edit_s, 4),
            "unet_forward": result.unet_forward,
            "unet_backward": result.unet_backward,
            "prepare_unet_forward": result.prepare_unet_forward,
            "unet_work": result.unet_work,
            "schedule": result.schedule,
        }
        if task is Task.FACE:
            from diffeditor_app.face_cli import face_summary

            summary.update(face_summary(args, request))
        print(json.dumps(summary))
    return EXIT_OK


def run_mask(args: argparse.Namespace) -> int:
    """Select with the chosen method, refine, and write an L-mode mask of the input's size
    (0 or 255) that `edit --mask` reads back as the same region."""
    import numpy as np
    from PIL import Image

    from diffeditor_app.engine.errors import InvalidInput
    from diffeditor_app.engine.imaging.images import load_image
    from diffeditor_app.engine.imaging.outputs import SAVE_FORMATS, UserFiles, write_atomically
    from diffeditor_app.engine.models.loading import check_device
    from diffeditor_app.engine.selection import (
        Box,
        Click,
        Method,
        SelectionPrompt,
        SelectionRequest,
        WandSettings,
        choose_method,
        refine,
        select,
    )
    from diffeditor_app.engine.selection.sam import SAM_HUB_ID, SamSpec, find_sam, load_sam
    from diffeditor_app.engine.selection.wand import DEFAULT_TOLERANCE

    UserFiles({"the input image": args.image}).check_output(args.out)
    check_device(args.device)
    image = load_image(args.image)
    clicks = tuple(Click(x, y) for x, y in args.click)
    clicks += tuple(Click(x, y, positive=False) for x, y in args.negative)
    prompt = SelectionPrompt(clicks, tuple(Box(*b) for b in args.box))
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    wand = WandSettings(tolerance=tolerance, contiguous=not args.everywhere)
    method = Method(args.method)
    request = SelectionRequest(image.rgb, prompt, method, wand)
    request.validate()  # bad input is refused before any model is loaded
    source = args.sam_model or SAM_HUB_ID
    sam_here = args.sam_model is not None or find_sam(source) is not None
    chosen = choose_method(prompt, method, sam_ready=sam_here)
    sam = None
    if chosen is Method.SAM:
        sam = load_sam(SamSpec(source, args.device, allow_download=not args.no_download))
    result = select(SelectionRequest(image.rgb, prompt, chosen, wand), sam)
    mask = result.mask
    if args.fill_holes:
        mask = refine.fill_holes(mask)
    mask = refine.shrink(refine.grow(mask, args.grow), args.shrink)
    if args.feather:
        mask = refine.smooth(mask, args.feather)
    if args.invert:
        mask = refine.invert(mask)
    if not mask.any():
        raise InvalidInput(
            f"Nothing was selected ({chosen.value}); click on the object, draw the box closer "
            "around it, or change the tolerance."
        )
    picture = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L")
    fmt = SAVE_FORMATS[args.out.suffix.lower()]
    write_atomically(args.out, lambda stream: picture.save(stream, format=fmt))
    if args.json:
        summary = {
            "output": str(args.out),
            "width": image.width,
            "height": image.height,
            "method": chosen.value,
            "seconds": round(result.seconds, 4),
            "selected_pixels": int(mask.sum()),
        }
        print(json.dumps(summary))
    return EXIT_OK


def remote_editor(url: str):
    """The server's editor for `--server` (the model and device are the server's)."""
    from diffeditor_app.server.client import RemoteEditor, ServerAddress

    return RemoteEditor(ServerAddress.from_env(url))


def add_serve_parser(commands: argparse._SubParsersAction) -> None:
    """The defaults are `ServerConfig`'s and `Limits`' (server/config.py, server/limits.py)."""
    from diffeditor_app.engine.models.memory import VramPreset
    from diffeditor_app.engine.models.model import DTYPES
    from diffeditor_app.server.config import ServerConfig
    from diffeditor_app.server.limits import MIB, Limits

    config, limits = ServerConfig, Limits
    serve = commands.add_parser("serve", help="run edits for the app and the CLI (Ray Serve)")
    serve.add_argument("--host", default=config.host, help="address to listen on")
    serve.add_argument("--port", type=int, default=config.port)
    serve.add_argument("--model", default=None, help="folder, .safetensors/.ckpt or hub id")
    serve.add_argument(
        "--replicas", type=int, default=None, help="editor replicas (default: one per GPU, or 1)"
    )
    serve.add_argument("--device", default=config.device, help="each replica's: auto, cuda, cpu")
    serve.add_argument("--dtype", default=config.dtype, choices=DTYPES)
    serve.add_argument(
        "--vram", default=config.vram, choices=[preset.value for preset in VramPreset]
    )
    serve.add_argument("--address", default=None, help="join this Ray cluster (ray://... or auto)")
    serve.add_argument("--no-download", action="store_true", help="never download weights")
    serve.add_argument(
        "--max-upload-mb",
        type=float,
        default=limits.max_upload_bytes / MIB,
        help="largest request body",
    )
    serve.add_argument(
        "--max-megapixels", type=float, default=limits.max_megapixels, help="largest image"
    )
    serve.add_argument(
        "--queue-limit",
        type=int,
        default=limits.queue_per_client,
        help="edits one client (its token and address) may have queued or running",
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        default=limits.header_timeout_s,
        help="seconds a connection has to send its request's headers (then 408)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=limits.body_timeout_s,
        help="seconds a request has to send its whole body (then 408)",
    )
    serve.add_argument("--debug", action="store_true", help="show tracebacks")


def run_serve(args: argparse.Namespace) -> int:
    """Check everything Ray-free first, then set Ray's environment, then import Ray."""
    from diffeditor_app.engine.models.model import SD15_HUB_ID
    from diffeditor_app.server.auth import server_token
    from diffeditor_app.server.config import ServerConfig, check_config, ray_environment
    from diffeditor_app.server.limits import Limits

    limits = Limits.from_flags(
        args.max_upload_mb,
        args.max_megapixels,
        args.queue_limit,
        args.header_timeout,
        args.body_timeout,
    )
    config = ServerConfig(
        host=args.host,
        port=args.port,
        model=args.model or SD15_HUB_ID,
        device=args.device,
        dtype=args.dtype,
        vram=args.vram,
        replicas=args.replicas,
        address=args.address,
        allow_download=not args.no_download,
        limits=limits,
    )
    check_config(config)
    token = server_token()
    if importlib.util.find_spec("ray") is None:  # not imported: Ray reads its environment then
        raise BadArguments('diffeditor serve needs the server extra: pip install -e ".[serve]".')
    os.environ.update(ray_environment(config, token))
    from diffeditor_app.server.serve import run_server

    return run_server(config, token)


def run_models(args: argparse.Namespace) -> int:
    if args.models_command == "convert":
        from diffeditor_app.engine.models.image_prompt_weights import convert

        count = convert(args.source, args.target)
        print(f"Wrote {count} tensors to {args.target}")
        return EXIT_OK
    from diffeditor_app.engine.models.testing import write_tiny_model

    folder = write_tiny_model(args.folder, seed=args.seed)
    print(f"Wrote a tiny random model to {folder}")
    return EXIT_OK


def run_training(args: argparse.Namespace) -> int:
    from diffeditor_app.engine.models.model import SD15_HUB_ID
    from diffeditor_app.engine.models.training import TrainingConfig, train

    report = train(
        TrainingConfig(
            data=args.data,
            model=args.model or SD15_HUB_ID,
            out=args.out,
            steps=args.steps,
            batch=args.batch,
            lr=args.lr,
            drop=args.drop,
            drop_text=args.drop_text,
            resume=args.resume,
            checkpoint_every=args.checkpoint_every,
            seed=args.seed,
            resolution=args.resolution,
            device=args.device,
            dtype=args.dtype,
            image_encoder=args.image_encoder,
            resampler_width=args.resampler_width,
            resampler_depth=args.resampler_depth,
            image_tokens=args.image_tokens,
        )
    )
    for note in report.notes:
        print(note, file=sys.stderr)
    print(f"Trained to step {report.step}; final loss {report.final_loss:.4f}; wrote {args.out}")
    return EXIT_OK


def run_gui(args: argparse.Namespace) -> int:
    if args.self_test:
        from diffeditor_app.selftest import run as self_test

        return self_test()
    from diffeditor_app.ui.app import run, screenshot

    if args.screenshot is not None:
        return screenshot(args.screenshot, args.task, args.image, args.demo, args.edit)
    return run(demo=args.demo, model=args.model, image=args.image)


def main(argv: list[str] | None = None) -> int:
    argv = join_negative_values(list(sys.argv[1:] if argv is None else argv))
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    debug = "--debug" in argv
    from diffeditor_app.engine.errors import EngineError, InvalidInput

    try:
        args = build_parser().parse_args(argv)
        if args.command == "edit":
            return run_edit(args)
        if args.command == "mask":
            return run_mask(args)
        if args.command == "models":
            return run_models(args)
        if args.command == "serve":
            return run_serve(args)
        if args.command == "train-image-prompt":
            return run_training(args)
        if args.command == "landmarks":
            from diffeditor_app.face_cli import run_landmarks

            return run_landmarks(args)
        return run_gui(args)
    except (BadArguments, InvalidInput) as error:
        print(f"diffeditor: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except EngineError as error:
        print(f"diffeditor: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("diffeditor: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:
        print(f"diffeditor: failed: {type(error).__name__}: {error}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        else:
            print("(run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
