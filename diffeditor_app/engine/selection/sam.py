"""Segment Anything (Kirillov et al. 2023) through transformers' `SamModel` / `SamProcessor`.

SAM splits into a heavy image encoder, run once per image, and a light prompt encoder and
mask decoder, run per click. `SamSegmenter` keeps the image embeddings of the last few
images (keyed by a hash of their pixels), so every click after the first only decodes.

Weights are optional and follow the house's offline rules (engine/models/loading.py): a local
folder, or a hub id read from the Hugging Face cache, downloaded only when allowed; a
missing model fails at once with one sentence. Any SAM-family checkpoint that `SamModel`
loads works (facebook/sam-vit-base, -large, -huge; SlimSAM's nielsr/slimsam-50-uniform).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffeditor_app.engine.errors import InvalidInput, ModelUnavailable, quoted
from diffeditor_app.engine.models.hub import hub_snapshot
from diffeditor_app.engine.models.loading import quiet_libraries, resolve_device
from diffeditor_app.engine.selection.prompts import SelectionPrompt, check_rgb

SAM_HUB_ID = "facebook/sam-vit-base"  # the smallest original SAM, ~0.4 GB in fp32
SAM_HUB_PATTERNS = ["*.json", "model.safetensors"]
SAM_APPROX_GB = 0.4
EMBEDDING_CACHE_SIZE = 4  # images whose embeddings are kept (a session, its reference, undo)
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


@dataclass(frozen=True)
class SamSpec:
    """Which SAM to load and where to run it."""

    source: str = SAM_HUB_ID  # a folder or a hub repo id
    device: str = "auto"
    allow_download: bool = False


def check_sam_folder(folder: Path) -> None:
    """One sentence when `folder` is not a SAM model transformers can load."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        raise ModelUnavailable(
            f"{quoted(folder)} is not a Segment Anything model folder: "
            "it has no readable config.json."
        ) from None
    if config.get("model_type") != "sam":
        raise ModelUnavailable(
            f"{quoted(folder)} holds a {quoted(config.get('model_type'))} model, "
            "not Segment Anything (sam)."
        )
    if not any((folder / name).is_file() for name in PROCESSOR_FILES):
        raise ModelUnavailable(f"{quoted(folder)} has no preprocessor_config.json for its images.")


def _looks_like_repo(source: str) -> bool:
    return source.count("/") == 1 and not source.startswith((".", "/", "~"))


def sam_folder(spec: SamSpec) -> Path:
    """The folder holding the weights: the spec's own folder or the hub cache's snapshot."""
    path = Path(spec.source).expanduser()
    if path.is_dir():
        check_sam_folder(path)
        return path
    if not _looks_like_repo(spec.source):
        raise ModelUnavailable(f"The Segment Anything model '{spec.source}' does not exist.")
    folder = hub_snapshot(spec.source, spec.allow_download, patterns=SAM_HUB_PATTERNS)
    check_sam_folder(folder)
    return folder


def find_sam(source: str) -> Path | None:
    """The SAM folder when its weights are here (a folder or the cache), never the
    network; None when they are not."""
    try:
        folder = sam_folder(SamSpec(source, allow_download=False))
    except ModelUnavailable:
        return None
    return folder if (folder / "model.safetensors").is_file() else None


@dataclass(frozen=True, eq=False)
class ImageEmbedding:
    """What the image encoder gives for one image, and the sizes to map prompts and masks."""

    embedding: torch.Tensor
    original_size: tuple[int, int]  # height, width
    reshaped_size: tuple[int, int]  # after resizing the longer side to the model's input


def image_key(rgb: np.ndarray) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(rgb).tobytes())
    digest.update(str(rgb.shape).encode())
    return digest.hexdigest()


class SamSegmenter:
    """One loaded SAM. Not thread-safe: the worker thread that loaded it uses it."""

    def __init__(self, model, processor, device: torch.device) -> None:
        self.model = model
        self.processor = processor
        self.device = device
        self.embeddings_computed = 0  # how many times the image encoder ran
        self._cache: OrderedDict[str, ImageEmbedding] = OrderedDict()

    def has_embedding(self, rgb: np.ndarray) -> bool:
        return image_key(rgb) in self._cache

    def embed(self, rgb: np.ndarray, interrupt: Callable[[], None] | None = None) -> ImageEmbedding:
        """The image's embedding, from the cache or computed now; `interrupt` runs before
        every encoder layer and may raise to cancel, leaving nothing cached."""
        check_rgb(rgb)
        key = image_key(rgb)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        inputs = self.processor(images=rgb, return_tensors="pt")
        hooks = []
        if interrupt is not None:
            for layer in self.model.vision_encoder.layers:
                hooks.append(layer.register_forward_pre_hook(lambda *_: interrupt()))
        try:
            with torch.no_grad():
                pixels = inputs["pixel_values"].to(self.device, self.model.dtype)
                embedding = self.model.get_image_embeddings(pixels)
        finally:
            for hook in hooks:
                hook.remove()
        self.embeddings_computed += 1
        entry = ImageEmbedding(
            embedding,
            tuple(int(v) for v in inputs["original_sizes"][0]),
            tuple(int(v) for v in inputs["reshaped_input_sizes"][0]),
        )
        self._cache[key] = entry
        while len(self._cache) > EMBEDDING_CACHE_SIZE:
            self._cache.popitem(last=False)
        return entry

    def segment(
        self,
        rgb: np.ndarray,
        prompt: SelectionPrompt,
        interrupt: Callable[[], None] | None = None,
    ) -> np.ndarray:
        """H x W bool for the clicks (positive and negative) and at most one box. A lone
        click asks SAM for three masks and keeps the one it scores best (the paper's
        answer to an ambiguous click); more prompts ask for one."""
        check_rgb(rgb)
        prompt.validate(rgb.shape[:2])
        if len(prompt.boxes) > 1:
            raise InvalidInput("Segment Anything takes one box per selection; draw one box.")
        entry = self.embed(rgb, interrupt)
        height, width = entry.original_size
        sizes = torch.tensor([[height, width]])
        reshaped = torch.tensor([list(entry.reshaped_size)])
        scale = max(entry.reshaped_size) / max(height, width)  # the longer side was resized
        kwargs = {}
        if prompt.clicks:
            points = [[c.x * scale, c.y * scale] for c in prompt.clicks]
            kwargs["input_points"] = torch.tensor([[points]], dtype=torch.float32)
            kwargs["input_labels"] = torch.tensor([[[int(c.positive) for c in prompt.clicks]]])
        if prompt.boxes:
            b = prompt.boxes[0].normalized()
            box = [b.x0 * scale, b.y0 * scale, b.x1 * scale, b.y1 * scale]
            kwargs["input_boxes"] = torch.tensor([[box]], dtype=torch.float32)
        kwargs = {k: v.to(self.device) for k, v in kwargs.items()}
        kwargs = {
            k: v.to(self.model.dtype) if v.is_floating_point() else v for k, v in kwargs.items()
        }
        ambiguous = len(prompt.clicks) == 1 and not prompt.boxes
        with torch.no_grad():
            out = self.model(image_embeddings=entry.embedding, multimask_output=ambiguous, **kwargs)
        masks = self.processor.image_processor.post_process_masks(
            out.pred_masks.float().cpu(), sizes, reshaped
        )[0][0]  # first image, first prompt batch: (masks, H, W)
        best = int(out.iou_scores[0, 0].float().argmax()) if ambiguous else 0
        return masks[best].numpy().astype(bool)


def load_sam(spec: SamSpec) -> SamSegmenter:
    """Load a SAM for `spec`; ModelUnavailable with one sentence when it cannot."""
    folder = sam_folder(spec)
    device, _notes = resolve_device(spec.device)
    quiet_libraries()
    from transformers import SamModel, SamProcessor

    try:
        model = SamModel.from_pretrained(folder, local_files_only=True)
        processor = SamProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelUnavailable(
            f"The Segment Anything model in {quoted(folder)} could not be loaded ({error})."
        ) from None
    model.to(device).eval()
    return SamSegmenter(model, processor, device)
