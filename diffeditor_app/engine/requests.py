"""What a user asks for: the base of every task's request dataclass, validated before any
model work. Each task declares its own request in its module under engine/tasks/.

Coordinates, offsets and masks are in the input image's pixels; `Frame` (geometry.py) maps
them to the working size and the model grids. The two-image tasks join this family through
`ReferenceEdit`, with a reference image and its mask.

A field a front end fills carries `wire(...)` metadata: its kind, a help line and, for an
image or mask, what it is called in messages. The server's wire schema and the CLI's
arguments are derived from these (`wire_fields`), so a new task writes them nowhere else.
"""

from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, NamedTuple

import numpy as np

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.imaging.crop import CropBox
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.engine.limits import (
    DEFAULT_SEED,
    DEFAULT_STEPS,
    MAX_SCALE,
    check_seed,
    check_steps,
)
from diffeditor_app.engine.settings import Quality, TaskSettings


class Point(NamedTuple):
    x: float
    y: float


_CHECKED = "_checked"  # set on a request that passed `validate()` (see EditRequest.checked)
REACH = MAX_SCALE + 1  # past this many image sides away, a placed object cannot overlap it


class Kind(str, enum.Enum):
    """What a front-end field holds, which says how the CLI parses it and JSON carries it."""

    TEXT = "text"
    WHOLE = "whole"  # an integer
    OPTIONAL_WHOLE = "optional whole"  # an integer or None
    FLAG = "flag"
    NUMBER = "number"  # a finite float
    PAIR = "pair"  # two finite numbers, X,Y
    BOX = "box"  # four finite numbers X0,Y0,X1,Y1, or None (the task's own box)
    POINT_PAIRS = "point pairs"  # handle -> target pairs of points
    IMAGE = "image"
    MASK = "mask"  # a boolean mask the size of the image named by `sized_like`
    CHOICE = "choice"  # one value of the str enum named by `choices`


@dataclass(frozen=True)
class WireField:
    """One field of a request as a front end sees it (see `wire`)."""

    name: str
    kind: Kind
    help: str
    what: str  # its name in messages ("reference mask")
    sized_like: str | None  # a mask: the image field whose size it has
    flag: str  # the CLI option
    required: bool  # a front end must give it
    default: Any
    choices: type[enum.Enum] | None  # a choice: the str enum of its values


def wire(
    kind: Kind,
    help: str,
    *,
    what: str = "",
    sized_like: str | None = None,
    flag: str = "",
    required: bool | None = None,
    choices: type[enum.Enum] | None = None,
) -> dict[str, Any]:
    """The metadata of a request field a front end fills. `required` None: required when the
    dataclass field has no default."""
    return {"wire": (kind, help, what, sized_like, flag, required, choices)}


def wire_fields(kind: type[EditRequest]) -> tuple[WireField, ...]:
    """The front-end fields of a request type, in declaration order (an image before its
    masks)."""
    found = []
    for spec in fields(kind):
        if "wire" not in spec.metadata:
            continue
        field_kind, help_text, what, sized_like, flag, required, choices = spec.metadata["wire"]
        default: Any = spec.default
        if spec.default_factory is not MISSING:
            default = spec.default_factory()
        if required is None:
            required = default is MISSING
        found.append(
            WireField(
                name=spec.name,
                kind=field_kind,
                help=help_text,
                what=what or spec.name.replace("_", " "),
                sized_like=sized_like,
                flag=flag or "--" + spec.name.replace("_", "-"),
                required=required,
                default=None if default is MISSING else default,
                choices=choices,
            )
        )
    return tuple(found)


@dataclass(frozen=True, kw_only=True, eq=False)
class EditRequest:
    """Everything one edit needs besides the model: the snapshot a worker can own."""

    task: ClassVar[str]  # the task's key (a `Task`, a str enum), set by the task registry
    image: SourceImage = field(metadata=wire(Kind.IMAGE, "input image"))
    prompt: str = field(default="", metadata=wire(Kind.TEXT, "what the image shows"))
    seed: int = field(default=DEFAULT_SEED, metadata=wire(Kind.WHOLE, "the noise seed"))
    steps: int = field(default=DEFAULT_STEPS, metadata=wire(Kind.WHOLE, "sampling steps"))
    quality: Quality = field(  # fast: about a third of the UNet work (ALGORITHM.md §4.9)
        default=Quality.FULL,
        metadata=wire(
            Kind.CHOICE,
            "full: the paper's method; fast: about a third of the UNet work",
            choices=Quality,
        ),
    )
    resolution: int | None = field(  # None: the model profile's default
        default=None, metadata=wire(Kind.OPTIONAL_WHOLE, "working resolution")
    )
    raw: bool = field(  # return the working-size decode instead of composing
        default=False, metadata=wire(Kind.FLAG, "write the working-size decode")
    )
    settings: TaskSettings | None = None  # None: the model's defaults for the task
    overrides: dict[str, Any] = field(default_factory=dict)  # changed on top of those
    image_prompt: bool = field(  # use the image prompt when the model has one
        default=True, metadata=wire(Kind.FLAG, "use the image prompt")
    )

    def validate(self) -> None:
        """Raise InvalidInput with one sentence for anything the edit cannot work with."""
        check_steps(self.steps)
        check_seed(self.seed)
        if self.quality not in tuple(Quality):
            choices = " or ".join(q.value for q in Quality)
            raise InvalidInput(f"The quality must be {choices}, got {self.quality!r}.")
        if self.settings is not None:
            self.settings.validate()

    def checked(self) -> EditRequest:
        """This request, validated once in this process: the first call runs `validate()`,
        later ones (the worker's, the engine's, a server client's) return at once. A request
        is frozen and its builders hand it copies of their arrays, so it stays valid."""
        if not self.__dict__.get(_CHECKED, False):
            self.validate()
            object.__setattr__(self, _CHECKED, True)
        return self

    def edit_region(self) -> np.ndarray:
        """Where the output may differ from the input, at the original size (ALGORITHM.md §8)."""
        raise NotImplementedError

    def content_alpha(self) -> np.ndarray | None:
        """The alpha of the edited content at the original size, blended in over the edit
        region like the pixels; None keeps the input's alpha as it is (drag, appearance)."""
        return None

    def working_crop(self) -> CropBox | None:
        """The part of the image the edit works on, put back into the full image afterwards
        (the editor does both); None: the whole image."""
        return None

    def cropped(self, crop: CropBox) -> EditRequest:
        """This request on the crop alone, in the crop's pixels (asked only of a request with
        a working crop)."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True, eq=False)
class MaskedEdit(EditRequest):
    """An edit of one region of the image, given as a mask of the image's size."""

    mask: np.ndarray = field(  # H x W bool
        metadata=wire(Kind.MASK, "mask image, non-zero = inside", sized_like="image")
    )
    mask_name: str = field(default="mask", repr=False)

    def validate(self) -> None:
        super().validate()
        check_mask(self.mask, self.image, self.mask_name)


def far_outside(value: tuple[float, float], image: SourceImage, extra: tuple[float, float]) -> bool:
    """Whether a shift or position lies so far out that nothing placed can reach the image:
    checked before any arithmetic, so huge numbers never overflow a coordinate grid."""
    sides = (image.width + extra[0], image.height + extra[1])
    return any(abs(v) > REACH * side for v, side in zip(value, sides, strict=True))


def check_shape(mask: np.ndarray, image: SourceImage, name: str) -> None:
    if mask.shape != (image.height, image.width):
        raise InvalidInput(
            f"The {name} is {mask.shape[1]}x{mask.shape[0]} but the image is "
            f"{image.width}x{image.height}; a mask must have the image's size."
        )


def check_mask(mask: np.ndarray, image: SourceImage, name: str) -> None:
    check_shape(mask, image, name)
    if mask.dtype != bool:
        raise InvalidInput(f"The {name} must be a boolean array.")
    if not mask.any():
        raise InvalidInput(f"The {name} is empty: paint the area to edit first.")


@dataclass(frozen=True, kw_only=True, eq=False)
class ReferenceEdit(EditRequest):
    """An edit that takes an object from a second image (the reference)."""

    reference: SourceImage = field(
        metadata=wire(Kind.IMAGE, "reference image", what="reference image")
    )
    reference_mask: np.ndarray = field(  # the object on the reference, the reference's size
        metadata=wire(Kind.MASK, "the object on the reference", sized_like="reference")
    )
    reference_prompt: str = field(default="", metadata=wire(Kind.TEXT, "what the reference shows"))

    def validate(self) -> None:
        super().validate()
        check_mask(self.reference_mask, self.reference, "reference mask")
