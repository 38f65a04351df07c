"""Alpha belongs to the content: move, resize and paste carry the object's alpha; the area
an object leaves takes its surroundings' alpha; outside the edit region alpha is untouched."""

from __future__ import annotations

import numpy as np

from diffeditor_app.engine.imaging.compose import compose
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.requests import Point
from diffeditor_app.engine.tasks.drag import DragEdit
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.engine.tasks.paste import PasteEdit

W, H = 120, 80


def rgba(alpha: np.ndarray) -> SourceImage:
    return SourceImage(rgb=np.full((H, W, 3), 90, np.uint8), alpha=alpha)


def object_mask() -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[30:50, 20:40] = True
    return mask


def test_move_into_a_transparent_area_carries_the_object_alpha():
    alpha = np.zeros((H, W), np.uint8)
    alpha[:, :60] = 255
    request = MoveEdit(image=rgba(alpha), mask=object_mask(), offset=(60, 0))
    content = request.content_alpha()
    assert (content[30:50, 80:100] == 255).all()  # the object, opaque where it lands
    assert (content[30:50, 20:40] == 255).all()  # the vacated area: its opaque surroundings
    assert (content[:, 100:] == 0).all()


def test_sprite_on_a_transparent_canvas_leaves_a_transparent_hole():
    alpha = np.zeros((H, W), np.uint8)
    alpha[object_mask()] = 200
    request = MoveEdit(image=rgba(alpha), mask=object_mask(), offset=(50, 10), scale=0.5)
    content = request.content_alpha()
    assert (content[object_mask() & ~request.placement().place(object_mask())] == 0).all()
    assert (content[request.placement().place(object_mask())] == 200).all()


def test_paste_brings_an_opaque_reference_object_into_transparency():
    alpha = np.zeros((H, W), np.uint8)
    reference = SourceImage(rgb=np.full((40, 40, 3), 200, np.uint8))
    ref_mask = np.zeros((40, 40), bool)
    ref_mask[10:30, 10:30] = True
    request = PasteEdit(
        image=rgba(alpha), reference=reference, reference_mask=ref_mask, at=(60, 40)
    )
    content = request.content_alpha()
    placed = request.edit_region()
    assert placed.sum() == 400 and (content[placed] == 255).all() and (content[~placed] == 0).all()


def test_drag_and_opaque_inputs_keep_the_input_alpha():
    alpha = np.full((H, W), 7, np.uint8)
    drag = DragEdit(image=rgba(alpha), mask=object_mask(), pairs=((Point(25, 35), Point(30, 35)),))
    assert drag.content_alpha() is None
    opaque = SourceImage(rgb=np.zeros((H, W, 3), np.uint8))
    assert MoveEdit(image=opaque, mask=object_mask(), offset=(10, 0)).content_alpha() is None


def test_compose_blends_alpha_in_the_region_and_nowhere_else():
    alpha = np.zeros((H, W), np.uint8)
    alpha[:, :60] = 255
    request = MoveEdit(image=rgba(alpha), mask=object_mask(), offset=(60, 0))
    edited = np.full((64, 96, 3), 90, np.uint8)
    out = np.asarray(compose(request.image, edited, request.edit_region(), request.content_alpha()))
    assert out.shape == (H, W, 4)
    assert (out[35:45, 85:95, 3] == 255).all()
    far = np.ones((H, W), bool)
    far[:, 0:115] = False  # the region with its dilation and feather reaches x < 115
    np.testing.assert_array_equal(out[..., 3][far], alpha[far])
    np.testing.assert_array_equal(out[:5, :, 3], alpha[:5])  # far above the region
