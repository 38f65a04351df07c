import math
from dataclasses import replace

import numpy as np
import pytest
from scenes import (
    OBJECT_COLOURS,
    PATTERN_SHARE,
    SIDE,
    Background,
    Scene,
    SceneObject,
    Stripes,
    random_scene,
    shade,
    vocabulary,
)

PLAIN = Background("plain", "grey", "beige", vertical=False, stripe=4)


def one(shape: str = "square", colour: str = "red", x: float = 24.0, y: float = 30.0, r=8.0):
    return Scene(PLAIN, (SceneObject(shape, colour, x, y, r),))


def test_scenes_are_rebuilt_exactly_from_split_and_index():
    a, b = random_scene("test", 7), random_scene("test", 7)
    assert a == b
    assert np.array_equal(a.render().rgb, b.render().rgb)
    assert random_scene("train", 7) != a  # the splits never share a seed


def test_objects_fit_the_frame_and_keep_apart():
    counts = set()
    for index in range(200):
        scene = random_scene("train", index)
        counts.add(len(scene.objects))
        render = scene.render()
        for obj, mask in zip(scene.objects, render.masks, strict=True):
            assert mask.any()
            assert obj.radius <= obj.x <= SIDE - obj.radius
            assert obj.radius <= obj.y <= SIDE - obj.radius
        overlap = np.sum(render.masks, axis=0) > 1 if render.masks else np.zeros(1)
        assert not overlap.any()
    assert counts == {1, 2, 3}


def test_caption_names_every_object_left_to_right_in_the_vocabulary():
    scene = Scene(
        Background("striped", "beige", "grey", vertical=True, stripe=4),
        (SceneObject("ring", "blue", 48, 20, 7.0), SceneObject("circle", "red", 12, 40, 12.0)),
    )
    assert scene.caption == "a large red circle and a small blue ring on a striped beige background"
    words = set(vocabulary())
    for index in range(100):
        assert set(random_scene("test", index).caption.split()) <= words


def test_moving_by_whole_pixels_shifts_pixels_and_mask_exactly():
    scene = one()
    before, after = scene.render(), scene.moved(0, 10, -6).render()
    assert np.array_equal(after.masks[0], np.roll(before.masks[0], (-6, 10), axis=(0, 1)))
    assert np.array_equal(after.rgb[after.masks[0]], before.rgb[before.masks[0]])


@pytest.mark.parametrize("factor", [0.6, 1.5])
def test_scaling_scales_the_area(factor):
    scene = one("circle", r=10.0)
    area = scene.render().coverage[0].sum()
    scaled = scene.scaled(0, factor).render().coverage[0].sum()
    assert scaled / area == pytest.approx(factor**2, rel=0.02)
    assert area == pytest.approx(math.pi * 100, rel=0.01)


def test_recolour_remove_and_add():
    scene = one()
    base = scene.render()
    blue = scene.recoloured(0, "blue").render()
    assert np.array_equal(blue.masks[0], base.masks[0])
    inner = base.coverage[0] == 1.0
    assert (blue.rgb[inner] == OBJECT_COLOURS["blue"]).all()
    assert (base.rgb[inner] == OBJECT_COLOURS["red"]).all()
    empty = scene.removed(0).render()
    assert empty.masks == [] and (empty.rgb == (150, 150, 150)).all()
    added = scene.added(SceneObject("cross", "green", 50, 50, 6.0)).render()
    assert len(added.masks) == 2 and np.array_equal(added.masks[0], base.masks[0])
    assert added.masks[1][50, 50] and not added.masks[1][30, 24]


def test_backgrounds_render_their_kind():
    plain = PLAIN.draw(SIDE)
    assert (plain == plain[0, 0]).all()
    gradient = Background("gradient", "beige", "sky", vertical=False, stripe=4).draw(SIDE)
    assert (gradient[:, 0] == (225, 210, 175)).all() and (gradient[:, -1] == (170, 205, 240)).all()
    striped = Background("striped", "beige", "sky", vertical=True, stripe=5).draw(SIDE)
    assert (striped[0] == striped[4]).all() and not (striped[4] == striped[5]).all()


def test_a_patterned_world_stripes_some_objects_and_keeps_the_flat_scenes():
    flat = [random_scene("train", i) for i in range(40)]
    patterned = [random_scene("train", i, patterned=True) for i in range(40)]
    for a, b in zip(flat, patterned, strict=True):
        assert a.background == b.background and all(o.pattern is None for o in a.objects)
        assert [replace(o, pattern=None) for o in b.objects] == list(a.objects)
    objects = [o for scene in patterned for o in scene.objects]
    share = sum(o.pattern is not None for o in objects) / len(objects)
    assert abs(share - PATTERN_SHARE) < 0.2
    assert any(" striped " in scene.caption.split(" on ")[0] for scene in patterned)
    assert "striped" in vocabulary()


def test_stripes_show_both_colours_and_move_and_scale_with_the_object():
    square = SceneObject("square", "red", 24.0, 30.0, 12.0, Stripes(4.0, 90.0, 0.0))
    scene = Scene(PLAIN, (square,))
    base = scene.render()
    red = OBJECT_COLOURS["red"]
    assert square.colours() == (red, shade(red)) and shade(red) != red
    assert {tuple(c) for c in base.rgb[base.coverage[0] == 1.0]} == {red, shade(red)}
    assert "striped red square" in scene.caption
    moved = scene.moved(0, 10, -6).render()
    assert np.array_equal(moved.rgb[moved.masks[0]], base.rgb[base.masks[0]])  # moved along
    assert scene.scaled(0, 1.5).objects[0].pattern.width == pytest.approx(6.0)
    flat = scene.recoloured(0, "blue").render()
    assert (flat.rgb[flat.coverage[0] == 1.0] == OBJECT_COLOURS["blue"]).all()
