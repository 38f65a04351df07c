"""Segment Anything with a tiny random model, loaded through the real loading code: shapes,
the embedding cache, cancel and errors (its masks are random, so they are not judged)."""

from __future__ import annotations

import numpy as np
import pytest

from diffeditor_app.engine.errors import EditCancelled, InvalidInput, ModelUnavailable
from diffeditor_app.engine.selection import (
    Box,
    Click,
    Method,
    SelectionPrompt,
    SelectionRequest,
    select,
)
from diffeditor_app.engine.selection.sam import (
    SAM_HUB_ID,
    SamSpec,
    find_sam,
    load_sam,
)


@pytest.fixture(scope="module")
def tiny_sam_dir(tmp_path_factory):
    from diffeditor_app.engine.models.testing import write_tiny_sam

    return write_tiny_sam(tmp_path_factory.mktemp("sam"))


@pytest.fixture
def sam(tiny_sam_dir):
    return load_sam(SamSpec(str(tiny_sam_dir), device="cpu"))


def _image(height=90, width=120, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_masks_have_the_image_size_for_clicks_and_boxes(sam):
    rgb = _image()
    for prompt in (
        SelectionPrompt((Click(30, 40),)),
        SelectionPrompt((Click(30, 40), Click(100, 10, positive=False))),
        SelectionPrompt(boxes=(Box(10, 10, 100, 80),)),
        SelectionPrompt((Click(50, 50),), (Box(10, 10, 100, 80),)),
    ):
        result = select(SelectionRequest(rgb, prompt, Method.AUTO), sam)
        assert result.method is Method.SAM
        assert result.mask.shape == (90, 120) and result.mask.dtype == bool


def test_the_embedding_is_computed_once_per_image(sam):
    rgb, other = _image(seed=1), _image(seed=2)
    for x in (10, 20, 30):
        sam.segment(rgb, SelectionPrompt((Click(x, 20),)))
    assert sam.embeddings_computed == 1
    sam.segment(other, SelectionPrompt((Click(5, 5),)))
    sam.segment(rgb, SelectionPrompt((Click(40, 20),)))
    assert sam.embeddings_computed == 2


def test_cancel_during_the_embedding_leaves_nothing_cached(sam):
    rgb = _image(seed=3)
    calls = []

    def interrupt():
        calls.append(1)
        raise EditCancelled("The selection was cancelled.")

    with pytest.raises(EditCancelled):
        sam.embed(rgb, interrupt)
    assert calls and not sam.has_embedding(rgb) and sam.embeddings_computed == 0
    sam.embed(rgb)
    assert sam.has_embedding(rgb)


def test_bad_prompts(sam):
    rgb = _image()
    with pytest.raises(InvalidInput, match="outside"):
        sam.segment(rgb, SelectionPrompt((Click(500, 5),)))
    with pytest.raises(InvalidInput, match="one box"):
        sam.segment(rgb, SelectionPrompt(boxes=(Box(1, 1, 9, 9), Box(20, 20, 40, 40))))


def test_missing_weights_fail_fast_with_a_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    assert find_sam(SAM_HUB_ID) is None
    with pytest.raises(ModelUnavailable, match="not in the Hugging Face cache"):
        load_sam(SamSpec(SAM_HUB_ID, device="cpu", allow_download=True))
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_sam(SamSpec(str(tmp_path / "nowhere"), device="cpu"))


def test_a_folder_that_is_not_sam_is_refused(tmp_path, tiny_model_dir):
    with pytest.raises(ModelUnavailable, match="Segment Anything"):
        load_sam(SamSpec(str(tmp_path), device="cpu"))
    with pytest.raises(ModelUnavailable, match="not Segment Anything"):
        load_sam(SamSpec(str(tiny_model_dir / "unet"), device="cpu"))


def test_find_sam_sees_a_local_folder(tiny_sam_dir):
    assert find_sam(str(tiny_sam_dir)) == tiny_sam_dir
