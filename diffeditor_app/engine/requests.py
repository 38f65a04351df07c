"""What a user asks for: one frozen dataclass per task, validated before any model work.

Coordinates, offsets and masks are in the input image's pixels; `Frame` (geometry.py) maps
them to the working size and the model grids. The two-image tasks (appearance, paste) join
this family with a reference image and its mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, NamedTuple

import numpy as np

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.face.crop import CropBox, crop_image, crop_mask, face_crop
from diffeditor_app.engine.imaging.compose import box_sum, feather_width
from diffeditor_app.engine.imaging.geometry import AxisMap, Placement, bbox_centre
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.settings import Task, TaskSettings


class Point(NamedTuple):
    x: float
    y: float


MIN_SCALE = 0.1  # smaller leaves less than a feature cell of most objects
MAX_SCALE = 4.0  # larger is a different picture, not an edit
MAX_STEPS = 1000  # the scheduler's training timesteps: one per step at most
DEFAULT_SEED = 42  # the seed of an edit nobody chose one for
DEFAULT_STEPS = 50  # the length of the method's step table (ALGORITHM.md §9)
SEED_RANGE = (0, 2**31 - 1)  # seeds a user types or draws; the app's seed field shows these
REACH = MAX_SCALE + 1  # past this many image sides away, a placed object cannot overlap it


@dataclass(frozen=True, kw_only=True, eq=False)
class EditRequest:
    """Everything one edit needs besides the model: the snapshot a worker can own."""

    task: ClassVar[Task]
    image: SourceImage
    prompt: str = ""
    seed: int = DEFAULT_SEED
    steps: int = DEFAULT_STEPS
    resolution: int | None = None  # None: the model profile's default
    raw: bool = False  # return the working-size decode instead of composing
    settings: TaskSettings | None = None  # None: the model's defaults for the task
    overrides: dict[str, Any] = field(default_factory=dict)  # changed on top of those
    image_prompt: bool = True  # use the image prompt when the model has one

    def validate(self) -> None:
        """Raise InvalidInput with one sentence for anything the edit cannot work with."""
        if self.steps < 1 or self.steps > MAX_STEPS:
            raise InvalidInput(f"steps must be between 1 and {MAX_STEPS}, got {self.steps}.")
        if not SEED_RANGE[0] <= self.seed <= SEED_RANGE[1]:
            raise InvalidInput(
                f"The seed must be between {SEED_RANGE[0]} and {SEED_RANGE[1]}, got {self.seed}."
            )
        if self.settings is not None:
            self.settings.validate()

    def edit_region(self) -> np.ndarray:
        """Where the output may differ from the input, at the original size (ALGORITHM.md §8)."""
        raise NotImplementedError

    def content_alpha(self) -> np.ndarray | None:
        """The alpha of the edited content at the original size, blended in over the edit
        region like the pixels; None keeps the input's alpha as it is (drag, appearance)."""
        return None

    def working_crop(self) -> CropBox | None:
        """The part of the image the edit works on, to be put back into the full image
        afterwards (the face task); None: the whole image."""
        return None

    def cropped(self, crop: CropBox) -> EditRequest:
        """This request on the crop alone, in the crop's pixels."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True, eq=False)
class MaskedEdit(EditRequest):
    """An edit of one region of the image, given as a mask of the image's size."""

    mask: np.ndarray  # H x W bool
    mask_name: str = field(default="mask", repr=False)

    def validate(self) -> None:
        super().validate()
        _check_mask(self.mask, self.image, self.mask_name)


@dataclass(frozen=True, kw_only=True, eq=False)
class MoveEdit(MaskedEdit):
    """Move an object by an offset and resize it about its own centre."""

    task: ClassVar[Task] = Task.MOVE
    offset: tuple[float, float] = (0.0, 0.0)  # (dx, dy) in image pixels
    scale: float = 1.0
    fill_hint: np.ndarray | None = None  # what should fill the vacated area (optional)

    def validate(self) -> None:
        super().validate()
        if not all(math.isfinite(v) for v in self.offset):
            raise InvalidInput("The offset must be two finite numbers.")
        if _far_outside(self.offset, self.image, (0.0, 0.0)):
            raise InvalidInput(
                f"The offset ({self.offset[0]:g}, {self.offset[1]:g}) moves the object far "
                "outside the image; choose a smaller offset."
            )
        if not (math.isfinite(self.scale) and MIN_SCALE <= self.scale <= MAX_SCALE):
            raise InvalidInput(
                f"scale must be between {MIN_SCALE} and {MAX_SCALE}, got {self.scale}."
            )
        if self.fill_hint is not None:
            _check_shape(self.fill_hint, self.image, "fill hint")
        if not self.placement().place(self.mask).any():
            raise InvalidInput(
                "The offset and scale move the object entirely outside the image; "
                "choose a smaller offset."
            )

    def placement(self) -> Placement:
        """The move in original pixels: scale about the object's bounding-box centre."""
        cx, cy = bbox_centre(self.mask)
        return Placement(self.scale, float(self.offset[0]), float(self.offset[1]), cx, cy)

    def edit_region(self) -> np.ndarray:
        return self.mask | self.placement().place(self.mask)

    def content_alpha(self) -> np.ndarray | None:
        """The object takes its alpha along; the area it leaves gets its surroundings' alpha
        (the median of a ring around it), so a vacated opaque area stays opaque."""
        alpha = self.image.alpha
        if alpha is None:
            return None
        background = alpha.copy()
        radius = feather_width(self.image.width, self.image.height)
        ring = (box_sum(self.mask, radius) > 0) & ~self.mask
        if ring.any():
            background[self.mask] = np.uint8(np.median(alpha[ring]))
        carried = self.placement().inverse().carry(np.where(self.mask, alpha, 0).astype(np.uint8))
        return np.maximum(background, carried)

    @property
    def fill_region(self) -> np.ndarray | None:
        """The fill hint, or None when absent or empty (an empty layer means no hint)."""
        if self.fill_hint is None or not self.fill_hint.any():
            return None
        return self.fill_hint


@dataclass(frozen=True, kw_only=True, eq=False)
class DragEdit(MaskedEdit):
    """Drag content from handle points to target points inside an editable region."""

    task: ClassVar[Task] = Task.DRAG
    pairs: tuple[tuple[Point, Point], ...] = ()
    mask_name: str = field(default="editable region", repr=False)

    def validate(self) -> None:
        super().validate()
        if not self.pairs:
            raise InvalidInput("Add at least one handle -> target point pair to drag.")
        for number, (handle, target) in enumerate(self.pairs, start=1):
            for label, point in (("handle", handle), ("target", target)):
                if not (0 <= point.x < self.image.width and 0 <= point.y < self.image.height):
                    raise InvalidInput(
                        f"Pair {number}: the {label} ({point.x:g}, {point.y:g}) is outside the "
                        f"{self.image.width}x{self.image.height} image."
                    )
        if all(handle == target for handle, target in self.pairs):
            raise InvalidInput("Every handle equals its target: there is nothing to drag.")

    def edit_region(self) -> np.ndarray:
        return self.mask


def _far_outside(
    value: tuple[float, float], image: SourceImage, extra: tuple[float, float]
) -> bool:
    """Whether a shift or position lies so far out that nothing placed can reach the image:
    checked before any arithmetic, so huge numbers never overflow a coordinate grid."""
    sides = (image.width + extra[0], image.height + extra[1])
    return any(abs(v) > REACH * side for v, side in zip(value, sides, strict=True))


def _check_shape(mask: np.ndarray, image: SourceImage, name: str) -> None:
    if mask.shape != (image.height, image.width):
        raise InvalidInput(
            f"The {name} is {mask.shape[1]}x{mask.shape[0]} but the image is "
            f"{image.width}x{image.height}; a mask must have the image's size."
        )


def _check_mask(mask: np.ndarray, image: SourceImage, name: str) -> None:
    _check_shape(mask, image, name)
    if mask.dtype != bool:
        raise InvalidInput(f"The {name} must be a boolean array.")
    if not mask.any():
        raise InvalidInput(f"The {name} is empty: paint the area to edit first.")


@dataclass(frozen=True, kw_only=True, eq=False)
class ReferenceEdit(EditRequest):
    """An edit that takes an object from a second image (the reference)."""

    reference: SourceImage
    reference_mask: np.ndarray  # the object on the reference, the reference's size
    reference_prompt: str = ""

    def validate(self) -> None:
        super().validate()
        _check_mask(self.reference_mask, self.reference, "reference mask")


@dataclass(frozen=True, kw_only=True, eq=False)
class AppearanceEdit(ReferenceEdit):
    """Give an object of the image the appearance of the reference's object."""

    task: ClassVar[Task] = Task.APPEARANCE
    mask: np.ndarray  # the object whose appearance changes

    def validate(self) -> None:
        super().validate()
        _check_mask(self.mask, self.image, "object mask")

    def edit_region(self) -> np.ndarray:
        return self.mask


@dataclass(frozen=True, kw_only=True, eq=False)
class PasteEdit(ReferenceEdit):
    """Paste the reference's object into the image, centred at `at`, scaled about its centre."""

    task: ClassVar[Task] = Task.PASTE
    at: tuple[float, float]  # centre of the pasted object, in the image's pixels
    scale: float = 1.0

    def validate(self) -> None:
        super().validate()
        if not all(math.isfinite(v) for v in self.at):
            raise InvalidInput("The paste position must be two finite numbers.")
        if _far_outside(self.at, self.image, self.reference.size):
            raise InvalidInput(
                f"The paste position ({self.at[0]:g}, {self.at[1]:g}) is far outside the "
                "image; choose a position inside it."
            )
        if not (math.isfinite(self.scale) and MIN_SCALE <= self.scale <= MAX_SCALE):
            raise InvalidInput(
                f"scale must be between {MIN_SCALE} and {MAX_SCALE}, got {self.scale}."
            )
        if not self.edit_region().any():
            raise InvalidInput(
                "At that position the pasted object lies entirely outside the image; "
                "choose a position inside it."
            )

    def edit_region(self) -> np.ndarray:
        """The placed object on the image, at the image's size (never wrapping)."""
        return placed_reference(self)

    def content_alpha(self) -> np.ndarray | None:
        """The pasted object brings its alpha (opaque where the reference has none)."""
        alpha = self.image.alpha
        if alpha is None:
            return None
        source = self.reference.alpha
        if source is None:
            source = np.full(self.reference_mask.shape, 255, np.uint8)
        carried = paste_map(self).carry(
            np.where(self.reference_mask, source, 0).astype(np.uint8), alpha.shape
        )
        return np.maximum(alpha, carried)


FACE_PROMPT = "a photo of a human face"  # the reference code's prompt for faces


@dataclass(frozen=True, kw_only=True, eq=False)
class FaceEdit(EditRequest):
    """Move a face's landmarks (handle -> target pairs, in image pixels) with landmark
    guidance: the edit energy alone, everywhere unless a face mask limits it. The edit works
    on a square crop around the face box and is put back into the full photo."""

    task: ClassVar[Task] = Task.FACE
    prompt: str = FACE_PROMPT
    pairs: tuple[tuple[Point, Point], ...] = ()
    face_box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the face, image pixels
    mask: np.ndarray | None = None  # optional face mask (H x W bool): guidance and change
    whole_image: bool = False  # True: the image is the crop already (see `cropped`)

    def validate(self) -> None:
        super().validate()
        if not self.pairs:
            raise InvalidInput("Give the face's points and their targets to edit the face.")
        for number, (handle, target) in enumerate(self.pairs, start=1):
            for label, point in (("point", handle), ("target", target)):
                if not (0 <= point.x < self.image.width and 0 <= point.y < self.image.height):
                    raise InvalidInput(
                        f"Face point {number}: the {label} ({point.x:g}, {point.y:g}) is "
                        f"outside the {self.image.width}x{self.image.height} image."
                    )
        if all(handle == target for handle, target in self.pairs):
            raise InvalidInput("No face point moves: there is nothing to edit.")
        crop = face_crop(self.face_box, self.image.width, self.image.height)
        for number, (handle, target) in enumerate(self.pairs, start=1):
            if not all(crop.contains(*point) for point in (handle, target)):
                raise InvalidInput(
                    f"Face point {number} or its target lies outside the crop around the face "
                    f"({', '.join(map(str, crop.as_list()))}); keep the points on the face."
                )
        if self.mask is not None:
            _check_mask(self.mask, self.image, "face mask")
            if not self.whole_image and not crop_mask(self.mask, crop).any():
                raise InvalidInput("The face mask lies outside the crop around the face.")

    def working_crop(self) -> CropBox | None:
        if self.whole_image:
            return None
        return face_crop(self.face_box, self.image.width, self.image.height)

    def cropped(self, crop: CropBox) -> FaceEdit:
        def shift(point: tuple[float, float]) -> Point:
            return Point(point[0] - crop.x0, point[1] - crop.y0)

        x0, y0, x1, y1 = self.face_box
        return replace(
            self,
            image=crop_image(self.image, crop),
            pairs=tuple((shift(h), shift(t)) for h, t in self.pairs),
            face_box=(x0 - crop.x0, y0 - crop.y0, x1 - crop.x0, y1 - crop.y0),
            mask=None if self.mask is None else crop_mask(self.mask, crop),
            whole_image=True,
        )

    def edit_region(self) -> np.ndarray:
        if self.mask is not None:
            return self.mask
        return np.ones((self.image.height, self.image.width), dtype=bool)


REQUEST_TYPES: dict[Task, type[EditRequest]] = {
    Task.MOVE: MoveEdit,
    Task.DRAG: DragEdit,
    Task.APPEARANCE: AppearanceEdit,
    Task.PASTE: PasteEdit,
    Task.FACE: FaceEdit,
}


def request_for(task: Task, **values: Any) -> EditRequest:
    """The request of `task` from everything a front end gathered (the CLI's arguments, the
    app's session): each request type takes the fields it has, so a paste ignores a mask and
    a move ignores a reference. Not validated: call `validate()` once, before any work."""
    kind = REQUEST_TYPES[task]
    accepted = {f.name for f in fields(kind) if f.init}
    return kind(**{name: value for name, value in values.items() if name in accepted})


def paste_map(request: PasteEdit) -> AxisMap:
    """Base-image pixels -> reference pixels of the pasted object: the reference object is
    scaled about its bounding-box centre c and its centre put on `at` (a pixel, whose
    centre is at + 0.5): p = c + (q - at - 0.5) / s."""
    cx, cy = bbox_centre(request.reference_mask)
    s = request.scale
    return AxisMap(1 / s, cx - (request.at[0] + 0.5) / s, 1 / s, cy - (request.at[1] + 0.5) / s)


def placed_reference(request: PasteEdit) -> np.ndarray:
    """The pasted object on the base image, at the base image's size."""
    shape = (request.image.height, request.image.width)
    return paste_map(request).place(request.reference_mask, shape)
