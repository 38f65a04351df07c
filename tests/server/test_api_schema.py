"""The version-1 wire format without a server: requests, limits, results, previews."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import fields, replace

import numpy as np
import pytest
from PIL import Image

from diffeditor_app.engine import EditResult, InvalidInput
from diffeditor_app.engine.imaging.images import SourceImage, load_mask
from diffeditor_app.engine.models.model import ModelProfile
from diffeditor_app.engine.models.testing import scene_requests, square_scene
from diffeditor_app.engine.settings import Quality
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.engine.tasks.registry import DEFAULTS, Task
from diffeditor_app.server.api import (
    BadRequest,
    PreviewOptions,
    TooLarge,
    decode_preview,
    decode_previews,
    decode_request,
    decode_result,
    encode_preview,
    encode_request,
    encode_result,
    image_key,
    overridable,
    read_task_defaults,
    status_for,
    task_defaults,
)


def request_values(request) -> dict:
    """Every field of a request, arrays as bytes, images as pixels."""
    values = {}
    for f in fields(request):
        value = getattr(request, f.name)
        if isinstance(value, SourceImage):
            value = (value.rgb.tobytes(), None if value.alpha is None else value.alpha.tobytes())
        elif isinstance(value, np.ndarray):
            value = (value.dtype.str, value.shape, value.tobytes())
        values[f.name] = value
    return values


@pytest.mark.parametrize("name", ["move", "resize", "drag", "appearance", "paste", "face"])
def test_every_task_makes_the_round_trip(name):
    image, mask = square_scene(96, 64)
    request = scene_requests(image, mask, steps=7)[name]
    request = type(request)(**{**request.__dict__, "prompt": "a red square", "seed": 9})
    back = decode_request(encode_request(request), max_pixels=None)
    assert type(back) is type(request)
    assert request_values(back) == request_values(request)


def test_a_face_box_and_a_face_mask_travel():
    image, mask = square_scene(96, 64)
    request = replace(
        scene_requests(image, mask, steps=7)["face"], face_box=(20.0, 18.0, 40.5, 36.0), mask=mask
    )
    back = decode_request(json.loads(json.dumps(encode_request(request))), max_pixels=None)
    assert back.face_box == (20.0, 18.0, 40.5, 36.0) and np.array_equal(back.mask, mask)
    body = encode_request(request)
    body["face_box"] = [1, 2, 3]
    with pytest.raises(BadRequest, match="'face_box' must be four numbers"):
        decode_request(body, max_pixels=None)


def test_the_quality_makes_the_round_trip_through_json():
    image, mask = square_scene(96, 64)
    request = MoveEdit(image=image, mask=mask, offset=(4, 0), quality=Quality.FAST)
    wire = json.loads(json.dumps(encode_request(request)))
    assert wire["quality"] == "fast"
    back = decode_request(wire, max_pixels=None)
    assert back.quality is Quality.FAST
    del wire["quality"]  # a client that does not send it gets the paper's method
    assert decode_request(wire, max_pixels=None).quality is Quality.FULL


def test_an_alpha_channel_and_a_fill_hint_travel():
    image, mask = square_scene(96, 64)
    alpha = np.full(mask.shape, 200, np.uint8)
    rgba = SourceImage(image.rgb, alpha=alpha, name="with alpha.png")
    hint = np.roll(mask, 20, axis=1)
    request = MoveEdit(image=rgba, mask=mask, fill_hint=hint, offset=(-4.5, 2), scale=1.2)
    back = decode_request(encode_request(request), max_pixels=None)
    assert np.array_equal(back.image.alpha, alpha) and back.image.name == "with alpha.png"
    assert np.array_equal(back.fill_hint, hint) and back.offset == (-4.5, 2.0)


def test_custom_task_settings_do_not_travel():
    image, mask = square_scene(96, 64)
    request = MoveEdit(image=image, mask=mask, offset=(4, 0), settings=DEFAULTS[Task.MOVE])
    with pytest.raises(InvalidInput, match="overrides"):
        encode_request(request)


def payload():
    image, mask = square_scene(96, 64)
    return encode_request(MoveEdit(image=image, mask=mask, offset=(4, 0)))


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (lambda p: p.update(task="recolour"), "'task' must be one of move, drag"),
        (lambda p: p.update(colour="red"), "Unknown field 'colour' in a move request."),
        (lambda p: p.update(seed="7"), "'seed' must be a whole number"),
        (lambda p: p.update(quality="best"), "'quality' must be 'full' or 'fast', got 'best'."),
        (lambda p: p.update(quality=["fast"]), "'quality' must be 'full' or 'fast', got ['fast']"),
        (lambda p: p.update(offset=[1]), "'offset' must be two numbers"),
        (lambda p: p["images"].pop("mask"), "The mask is missing from the request"),
        (lambda p: p["images"]["mask"].update(png="***"), "is not valid base64"),
        (lambda p: p.update(previews={"mode": "sometimes"}), "'previews.mode' must be one of"),
        (lambda p: p.update(previews={"share": 2}), "'previews.share' must be between 0 and 1"),
    ],
)
def test_malformed_requests_are_400_with_a_sentence(change, sentence):
    body = payload()
    change(body)
    with pytest.raises(BadRequest) as error:
        decode_request(body, max_pixels=None)
        decode_previews(body)
    assert sentence in str(error.value)
    assert status_for(error.value) == 400


def test_an_unreadable_image_and_a_wrong_size_mask_get_the_cli_sentences(tmp_path):
    body = payload()
    body["images"]["image"]["png"] = base64.b64encode(b"not a png").decode()
    with pytest.raises(InvalidInput, match="is not an image this editor can read"):
        decode_request(body, max_pixels=None)
    small = np.ones((10, 12), bool)
    Image.fromarray(small).save(tmp_path / "mask.png")
    with pytest.raises(InvalidInput) as cli:
        load_mask(tmp_path / "mask.png", (96, 64))
    body = payload()
    buffer = io.BytesIO()
    Image.fromarray(small).save(buffer, format="PNG")
    body["images"]["mask"] = {
        "name": "mask.png",
        "png": base64.b64encode(buffer.getvalue()).decode(),
    }
    with pytest.raises(InvalidInput) as served:
        decode_request(body, max_pixels=None)
    assert str(served.value) == str(cli.value)
    assert status_for(served.value) == 422


def test_the_megapixel_limit_is_read_from_the_header_and_is_413():
    with pytest.raises(TooLarge, match=r"up to 0\.005 megapixels") as error:
        decode_request(payload(), max_pixels=5_000)  # 96 x 64 = 6144 pixels
    assert status_for(error.value) == 413
    assert decode_request(payload(), max_pixels=6_144).image.size == (96, 64)


def test_routing_key_follows_the_pixels_only():
    image, mask = square_scene(96, 64)
    one = MoveEdit(image=image, mask=mask, offset=(4, 0), seed=1)
    two = MoveEdit(image=image, mask=mask, offset=(9, 0), seed=2, prompt="other")
    other = SourceImage(np.ascontiguousarray(image.rgb[:, ::-1]))
    assert image_key(one) == image_key(two)
    assert image_key(one) != image_key(MoveEdit(image=other, mask=mask, offset=(4, 0)))


def test_results_and_previews_travel_losslessly():
    rgb = np.random.default_rng(0).integers(0, 256, (40, 60, 4), dtype=np.uint8)
    picture = Image.fromarray(rgb, "RGBA")
    values = {f.name: None for f in fields(EditResult)}
    values.update(
        image=picture, raw=False, prepare_s=0.5, edit_s=1.5, unet_forward=94, unet_backward=56,
        prepare_unet_forward=70, prepared_from_cache=False, seed=3, steps=50, resolution=512,
        working_size=(512, 320), device="cuda", dtype="float16", schedule={"guidance": [0, 30]},
        notes=["a note"], unet_work=334, quality="fast",
    )  # fmt: skip
    back = decode_result(encode_result(EditResult(**values)))
    assert np.array_equal(np.asarray(back.image), rgb) and back.image.mode == "RGBA"
    assert (back.unet_work, back.quality) == (334, "fast")
    assert back.working_size == (512, 320) and back.notes == ["a note"]
    preview = rgb[..., :3].repeat(8, axis=0)  # 320 x 60
    small = decode_preview(encode_preview(preview, 64))
    assert max(small.shape[:2]) == 64
    assert np.array_equal(decode_preview(encode_preview(preview, 0)), preview)


def test_preview_modes_map_to_the_engine_budget():
    assert PreviewOptions("all").budget() is None
    assert PreviewOptions("throttled", share=0.1).budget() == 0.1
    assert PreviewOptions("none").budget() == 0.0
    body = payload()
    body["previews"] = {"mode": "throttled", "max_side": 128, "share": 0.4}
    assert decode_previews(body) == PreviewOptions("throttled", 128, 0.4)


def test_the_info_defaults_are_the_models_own_and_read_back():
    profile = ModelProfile(task_overrides={"paste": {"ip_scale": 0.25, "guidance_strength": 3.0}})
    info = json.loads(json.dumps({"task_defaults": task_defaults(profile)}))  # over the wire
    defaults = read_task_defaults(info)
    assert defaults[Task.PASTE]["ip_scale"] == 0.25
    assert defaults[Task.PASTE]["guidance_strength"] == 3.0
    assert defaults[Task.MOVE]["eta_in"] == DEFAULTS[Task.MOVE].eta_in
    assert set(defaults[Task.DRAG]) == set(overridable(Task.DRAG))
    with pytest.raises(BadRequest):
        read_task_defaults({"task_defaults": {"move": {}}})  # not every task
