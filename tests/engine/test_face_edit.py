"""The face task end to end on the tiny model: landmark guidance on a square crop around the
face, put back into the full photo (pixels outside the crop bit-exact, the input's size),
and its plan: the edit energy alone, global unless a face mask limits it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from diffeditor_app.engine import Point
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.face.crop import CROP_FACE_BOXES, face_crop, pairs_for
from diffeditor_app.engine.face.landmarks import detect_faces
from diffeditor_app.engine.face.sliders import Sliders
from diffeditor_app.engine.imaging.geometry import Frame
from diffeditor_app.engine.imaging.images import SourceImage, load_image
from diffeditor_app.engine.tasks.face import (
    FACE_PROMPT,
    MIN_BOX_SHARE,
    FaceEdit,
    LandmarkEnergy,
    plan_face,
)
from diffeditor_app.engine.tasks.registry import DEFAULTS, PLANNERS, REQUEST_TYPES, Task

PORTRAIT = Path(__file__).parents[1] / "face" / "portrait.png"
OFFSET = (150, 40)  # the portrait's place on a larger canvas


@pytest.fixture(scope="module")
def photo() -> tuple[SourceImage, object]:
    """The portrait on a 400 x 300 canvas, so the face's crop leaves pixels outside it."""
    canvas = np.full((300, 400, 3), 60, np.uint8)
    x, y = OFFSET
    canvas[y : y + 224, x : x + 224] = load_image(PORTRAIT).rgb
    image = SourceImage(rgb=canvas, alpha=None, name="canvas.png")
    (face,) = detect_faces(image)
    return image, face


def smile_request(image: SourceImage, face, **extra) -> FaceEdit:
    targets = Sliders(smile=1.0, mouth_open=0.6).targets(face.points)
    pairs = pairs_for(face.points, targets, image.width, image.height)
    return FaceEdit(
        image=image,
        pairs=tuple((Point(*h), Point(*t)) for h, t in pairs),
        face_box=face.box,
        **extra,
    )


def test_the_face_task_is_registered_with_landmark_defaults():
    settings = DEFAULTS[Task.FACE]
    assert REQUEST_TYPES[Task.FACE] is FaceEdit and PLANNERS[Task.FACE] is plan_face
    assert settings.w_content == 0 and settings.w_inpaint == 0 and settings.ip_scale == 0.05
    assert FaceEdit.prompt == FACE_PROMPT == "a photo of a human face"
    assert DEFAULTS[Task.FACE].fast.guidance_boost > 1  # fast: fewer guided steps, harder


def test_an_empty_prompt_is_the_face_prompt(photo):
    image, face = photo
    assert smile_request(image, face, prompt="").prompt == FACE_PROMPT
    assert smile_request(image, face, prompt="a smiling man").prompt == "a smiling man"


def test_without_a_face_box_the_crop_surrounds_the_points(photo):
    """The points alone (the app's points tool, `--points`): the box around them and their
    targets, at least a quarter of the shorter side, so one pair still has a crop."""
    image, _ = photo
    one = FaceEdit(image=image, pairs=((Point(200.0, 150.0), Point(204.0, 150.0)),))
    one.validate()
    x0, y0, x1, y1 = one.box()
    side = MIN_BOX_SHARE * min(image.width, image.height)
    assert (x1 - x0, y1 - y0) == (side, side) and (x0 + x1) / 2 == 202.0
    crop = one.working_crop()
    assert crop.size == (3 * side, 3 * side)
    wide = FaceEdit(image=image, pairs=((Point(120.0, 100.0), Point(260.0, 120.0)),))
    x0, y0, x1, y1 = wide.box()
    assert (x0, x1) == (120.0, 260.0) and y1 - y0 == side
    wide.validate()  # every point inside the crop of three such boxes


def test_a_face_edit_changes_only_the_crop_and_keeps_the_photos_size(editor, photo):
    image, face = photo
    result = editor.edit(smile_request(image, face, steps=2))
    out = np.asarray(result.image.convert("RGB"))
    assert result.image.size == image.size
    crop = face_crop(face.box, image.width, image.height)
    width = face.box[2] - face.box[0]
    assert crop.size[0] <= CROP_FACE_BOXES * max(width, face.box[3] - face.box[1]) + 1
    outside = np.ones((image.height, image.width), bool)
    outside[crop.y0 : crop.y1, crop.x0 : crop.x1] = False
    assert (out[outside] == image.rgb[outside]).all()
    middle = out[crop.y0 + 20 : crop.y1 - 20, crop.x0 + 20 : crop.x1 - 20]
    assert (middle != image.rgb[crop.y0 + 20 : crop.y1 - 20, crop.x0 + 20 : crop.x1 - 20]).any()
    assert result.working_size == (64, 64)  # the square crop at the tiny model's resolution
    assert result.unet_backward > 0  # guided: the landmark energy has a gradient


def test_the_plan_is_the_edit_energy_alone_everywhere_or_inside_the_face_mask(photo):
    image, face = photo
    request = smile_request(image, face)
    inner = request.cropped(request.working_crop())
    frame = Frame(inner.image.width, inner.image.height, 64, 64, 8)
    plan = plan_face(inner, frame, DEFAULTS[Task.FACE], torch.device("cpu"))
    assert plan.grad_mask.all() and plan.sde_mask.all() and plan.region.all()
    assert isinstance(plan.energy, LandmarkEnergy) and plan.energy.pairs == 68
    generated = [torch.randn(8, 16 * 16, requires_grad=True)]
    edit, content = plan.energy(generated, [torch.randn(8, 16 * 16)])
    assert edit.requires_grad and not content.requires_grad and content.item() == 0
    z_T = torch.randn(1, 4, 8, 8)
    assert torch.equal(plan.initial_latent(z_T), z_T)

    mask = np.zeros((image.height, image.width), bool)
    x0, y0, x1, y1 = (round(v) for v in face.box)
    mask[y0:y1, x0:x1] = True
    masked = smile_request(image, face, mask=mask)
    inner = masked.cropped(masked.working_crop())
    plan = plan_face(inner, frame, DEFAULTS[Task.FACE], torch.device("cpu"))
    assert 0 < plan.grad_mask.mean() < 1 and plan.region.sum() == mask.sum()


def test_the_cropped_request_is_the_same_edit_in_the_crops_pixels(photo):
    image, face = photo
    request = smile_request(image, face)
    crop = request.working_crop()
    inner = request.cropped(crop)
    assert inner.image.size == crop.size and inner.working_crop() is None
    (handle, target), (inner_handle, inner_target) = request.pairs[60], inner.pairs[60]
    assert inner_handle == Point(handle.x - crop.x0, handle.y - crop.y0)
    assert inner_target == Point(target.x - crop.x0, target.y - crop.y0)
    inner.validate()


def test_bad_face_edits_are_refused_in_one_sentence(photo):
    image, face = photo
    still = tuple((Point(x, y), Point(x, y)) for x, y in face.points)
    with pytest.raises(InvalidInput, match="No face point moves"):
        FaceEdit(image=image, pairs=still, face_box=face.box).validate()
    far = ((Point(5.0, 5.0), Point(6.0, 5.0)),)
    with pytest.raises(InvalidInput, match="outside the crop"):
        FaceEdit(image=image, pairs=far, face_box=face.box).validate()
    empty = np.zeros((image.height, image.width), bool)
    with pytest.raises(InvalidInput, match="face mask"):
        smile_request(image, face, mask=empty).validate()
