"""Reading images and masks: every common mode converts (never rejects), EXIF rotation is
applied, unreadable files fail with one readable sentence, and the file is only read."""

from __future__ import annotations

import gc
import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.images import load_image, load_mask

ORIENTATION = 0x0112


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def saved(image: Image.Image, path: Path, **params) -> Path:
    image.save(path, **params)
    return path


def mode_of(path: Path) -> str:
    with Image.open(path) as image:
        return image.mode


# -- images: every mode becomes 8-bit RGB (+ alpha) ----------------------------------------


def test_rgba_keeps_alpha_and_unpremultiplied_colour(tmp_path):
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 10, 20, 30
    rgba[..., 3] = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    path = saved(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png")
    image = load_image(path)
    assert image.rgb.shape == (4, 6, 3) and image.rgb.dtype == np.uint8
    assert image.alpha is not None and image.alpha.dtype == np.uint8
    np.testing.assert_array_equal(image.alpha, rgba[..., 3])
    # colour under a fully transparent pixel (alpha 0 at [0, 0]) is kept, not premultiplied
    np.testing.assert_array_equal(image.rgb, rgba[..., :3])
    assert image.size == (6, 4)


def test_la_is_grey_rgb_with_alpha(tmp_path):
    path = saved(Image.new("LA", (6, 4), (200, 100)), tmp_path / "la.png")
    image = load_image(path)
    assert (image.rgb == 200).all()
    assert image.alpha is not None and (image.alpha == 100).all()


def _palette_image() -> Image.Image:
    indices = np.zeros((4, 6), np.uint8)
    indices[:, 3:] = 1
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 10, 20, 30] + [0] * (256 * 3 - 6))
    return image


def test_palette_without_transparency_is_plain_rgb(tmp_path):
    image = load_image(saved(_palette_image(), tmp_path / "p.png"))
    assert image.alpha is None
    assert image.rgb[0, 0].tolist() == [0, 0, 0]
    assert image.rgb[0, 5].tolist() == [10, 20, 30]


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_transparency_becomes_alpha(tmp_path, suffix):
    image = load_image(saved(_palette_image(), tmp_path / f"p{suffix}", transparency=0))
    assert image.alpha is not None
    assert (image.alpha[:, :3] == 0).all() and (image.alpha[:, 3:] == 255).all()
    assert image.rgb[0, 5].tolist() == [10, 20, 30]


@pytest.mark.parametrize(("mode", "colour", "key"), [("L", 77, 77), ("RGB", (1, 2, 3), (1, 2, 3))])
def test_colour_key_transparency_becomes_alpha(tmp_path, mode, colour, key):
    picture = Image.new(mode, (6, 4), colour)
    picture.putpixel((0, 0), 0 if mode == "L" else (9, 9, 9))
    image = load_image(saved(picture, tmp_path / "key.png", transparency=key))
    assert image.alpha is not None
    assert image.alpha[0, 0] == 255 and image.alpha[1, 1] == 0
    assert image.alpha.sum() == 255


def test_cmyk_converts_to_rgb(tmp_path):
    path = saved(Image.new("CMYK", (6, 4), (0, 255, 0, 0)), tmp_path / "cmyk.tif")
    image = load_image(path)
    assert image.alpha is None
    assert (image.rgb == np.array([255, 0, 255], np.uint8)).all()


def test_cmyk_jpeg_converts_to_rgb(tmp_path):
    path = saved(Image.new("CMYK", (16, 16), (0, 255, 0, 0)), tmp_path / "cmyk.jpg", quality=95)
    assert mode_of(path) == "CMYK"
    image = load_image(path)
    np.testing.assert_allclose(image.rgb.reshape(-1, 3).mean(0), [255, 0, 255], atol=6)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grey_is_scaled_by_range_not_clipped(tmp_path, suffix):
    values = np.zeros((4, 6), np.uint16)
    values[0, 0], values[1, 1], values[2, 2], values[3, 3] = 65535, 32768, 257, 0
    path = saved(Image.fromarray(values), tmp_path / f"grey16{suffix}")
    assert mode_of(path).startswith("I")
    image = load_image(path)
    assert image.alpha is None
    grey = image.rgb[..., 0]
    assert (image.rgb == grey[..., None]).all()
    assert grey[0, 0] == 255
    assert grey[1, 1] == 128
    assert grey[2, 2] == 1
    assert grey[3, 3] == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 255, 128], [0, 255, 128]),  # 32-bit grey holding 8-bit values
        ([0, 65535, 32768], [0, 255, 128]),  # ... holding 16-bit values
        ([0, 1 << 20, 1 << 19], [0, 255, 128]),  # ... beyond 16 bits: its own range
    ],
)
def test_32_bit_grey_is_scaled_by_range(tmp_path, values, expected):
    data = np.array([values], np.int32)
    image = load_image(saved(Image.fromarray(data, "I"), tmp_path / "grey32.tif"))
    assert image.rgb[0, :, 0].tolist() == expected


def test_float_grey_in_unit_range(tmp_path):
    data = np.array([[0.0, 1.0, 0.5]], np.float32)
    image = load_image(saved(Image.fromarray(data, "F"), tmp_path / "float.tif"))
    assert image.rgb[0, :, 0].tolist() == [0, 255, 128]


def test_grey_and_bilevel(tmp_path):
    grey = load_image(saved(Image.new("L", (6, 4), 77), tmp_path / "l.png"))
    assert grey.alpha is None and (grey.rgb == 77).all()
    bits = Image.new("1", (6, 4), 0)
    bits.putpixel((2, 1), 1)
    bilevel = load_image(saved(bits, tmp_path / "one.png"))
    assert bilevel.rgb[1, 2].tolist() == [255, 255, 255]
    assert int(bilevel.rgb.sum()) == 3 * 255


@pytest.mark.parametrize(
    ("orientation", "marker"),
    [
        (6, (36, 5)),  # stored (5, 3) in 60x40, rotated 90 degrees clockwise for display
        (8, (3, 54)),  # rotated 90 degrees counter-clockwise
        (3, (54, 36)),  # rotated 180 degrees: the size stays, the marker moves
    ],
)
def test_exif_orientation_is_applied(tmp_path, orientation, marker):
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[1:6, 3:8] = (255, 0, 0)  # a 5x5 red block centred on (5, 3)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = saved(Image.fromarray(stored), tmp_path / "rotated.jpg", exif=exif, quality=95)
    before = sha(path)
    image = load_image(path)
    expected_size = (60, 40) if orientation == 3 else (40, 60)
    assert image.size == expected_size
    rows, cols = np.nonzero(image.rgb[..., 0] > 128)
    assert rows.size == 25
    assert (round(cols.mean()), round(rows.mean())) == marker
    assert sha(path) == before


def test_loading_never_writes_the_file(tmp_path):
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    paths = [
        saved(Image.new("RGB", (30, 20), (1, 2, 3)), tmp_path / "x.jpg", exif=exif),
        saved(Image.new("RGBA", (30, 20), (1, 2, 3, 4)), tmp_path / "x.png"),
        saved(Image.fromarray(np.full((20, 30), 40000, np.uint16)), tmp_path / "x16.png"),
    ]
    for path in paths:
        before, mtime = sha(path), path.stat().st_mtime_ns
        load_image(path)
        load_mask(path, load_image(path).size)
        assert sha(path) == before and path.stat().st_mtime_ns == mtime


def test_multi_frame_file_is_closed_after_loading(tmp_path):
    frames = [Image.new("P", (8, 8), i) for i in range(3)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_image(path)
        load_mask(path, (8, 8))
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


# -- unreadable input: one readable sentence -------------------------------------------------


def test_text_file_named_png_is_invalid_input(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(InvalidInput) as caught:
        load_image(path)
    message = str(caught.value)
    assert "notes.png" in message and "not an image" in message
    assert "\n" not in message


def test_truncated_file_is_invalid_input(tmp_path):
    path = saved(Image.new("RGB", (64, 64), (9, 9, 9)), tmp_path / "cut.png")
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(InvalidInput, match=r"cut\.png"):
        load_image(path)


def test_missing_file_and_folder_are_invalid_input(tmp_path):
    with pytest.raises(InvalidInput, match=r"missing\.png.*does not exist"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(InvalidInput, match="not a file"):
        load_image(tmp_path)
    with pytest.raises(InvalidInput, match="does not exist"):
        load_mask(tmp_path / "missing_mask.png", (4, 4))


# -- masks -------------------------------------------------------------------------------------


def test_mask_of_another_size_names_both_sizes(tmp_path):
    path = saved(Image.new("L", (50, 30), 255), tmp_path / "small.png")
    with pytest.raises(InvalidInput) as caught:
        load_mask(path, (64, 48))
    message = str(caught.value)
    assert "50x30" in message and "64x48" in message and "small.png" in message


def test_grey_mask_is_thresholded_at_half(tmp_path):
    values = np.zeros((4, 6), np.uint8)
    values[0, 0], values[1, 1], values[2, 2], values[3, 3] = 1, 127, 128, 255
    mask = load_mask(saved(Image.fromarray(values), tmp_path / "m.png"), (6, 4))
    assert mask.dtype == bool and mask.shape == (4, 6)
    np.testing.assert_array_equal(mask, values >= 128)


@pytest.mark.parametrize(("suffix", "params"), [(".jpg", {"quality": 60}), (".webp", {})])
def test_lossy_mask_selects_the_painted_square_only(tmp_path, suffix, params):
    values = np.random.default_rng(0).integers(1, 4, (100, 300), dtype=np.uint8)  # "black"
    values[30:70, 100:160] = 255  # 2,400 of 30,000 pixels
    path = saved(Image.fromarray(values), tmp_path / f"m{suffix}", **params)
    with Image.open(path) as written:
        assert (np.asarray(written) != 0).sum() > 20_000  # the codec's noise is everywhere
    mask = load_mask(path, (300, 100))
    assert abs(int(mask.sum()) - 2_400) < 100
    assert mask[35:65, 105:155].all() and not mask[:25].any()


def test_soft_rgba_stroke_counts_where_half_opaque(tmp_path):
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = 255  # a red brush
    rgba[0, :, 3] = [0, 1, 100, 127, 128, 255]
    mask = load_mask(saved(Image.fromarray(rgba, "RGBA"), tmp_path / "m.png"), (6, 4))
    np.testing.assert_array_equal(mask[0], [False, False, False, False, True, True])


def test_rgba_mask_transparent_is_outside(tmp_path):
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere, as paint apps leave it under erased pixels
    rgba[1:3, 2:5, 3] = 255  # only this block is opaque
    mask = load_mask(saved(Image.fromarray(rgba, "RGBA"), tmp_path / "m.png"), (6, 4))
    expected = np.zeros((4, 6), bool)
    expected[1:3, 2:5] = True
    np.testing.assert_array_equal(mask, expected)


def test_bilevel_and_16_bit_masks(tmp_path):
    bits = Image.new("1", (6, 4), 0)
    bits.putpixel((1, 2), 1)
    mask = load_mask(saved(bits, tmp_path / "bits.png"), (6, 4))
    assert mask.sum() == 1 and mask[2, 1]
    values = np.zeros((4, 6), np.uint16)
    values[3, 5] = 1  # 1/65535: dark, but non-zero
    deep = load_mask(saved(Image.fromarray(values), tmp_path / "deep.png"), (6, 4))
    assert deep.sum() == 1 and deep[3, 5]


def test_mask_follows_exif_orientation_like_the_image(tmp_path):
    stored = np.zeros((40, 60), np.uint8)
    stored[:, :10] = 255
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = saved(Image.fromarray(stored), tmp_path / "m.png", exif=exif)  # lossless
    mask = load_mask(path, (40, 60))
    assert mask.shape == (60, 40)
    # the left columns of the stored picture are the top rows once rotated clockwise
    assert mask[:8].all() and not mask[12:].any()


def test_images_past_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    from diffeditor_app.engine.imaging import images

    path = tmp_path / "wide.png"
    Image.new("L", (300, 200)).save(path)
    monkeypatch.setattr(images, "MAX_PIXELS", 50_000)
    with pytest.raises(InvalidInput, match="300x200; images up to 0 megapixels"):
        load_image(path)
    monkeypatch.setattr(images, "MAX_PIXELS", 60_000)
    assert load_image(path).size == (300, 200)


def test_pillow_bomb_guard_stays_on_at_the_editor_limit():
    from diffeditor_app.engine.imaging import images

    assert Image.MAX_IMAGE_PIXELS is not None  # never switched off for the whole process
    assert Image.MAX_IMAGE_PIXELS <= images.MAX_PIXELS


def test_image_bytes_past_the_limit_are_refused_from_the_header(monkeypatch):
    import io

    from diffeditor_app.engine.imaging import images

    buffer = io.BytesIO()
    Image.new("L", (300, 200)).save(buffer, "PNG")
    monkeypatch.setattr(images, "MAX_PIXELS", 50_000)
    with pytest.raises(InvalidInput, match=r"member\.png' is 300x200"):
        images.open_image("project:member.png", buffer.getvalue())
