"""Face: a face's landmarks move to targets with landmark guidance (ALGORITHM.md §7.6), on a
square crop around the face put back into the full photo.

The targets come from a reference face, from sliders or from the points themselves
(engine/face/); the request only holds the point pairs, so it needs none of the face extra.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.face.crop import face_crop
from diffeditor_app.engine.imaging.crop import CropBox, crop_image, crop_mask
from diffeditor_app.engine.imaging.geometry import Frame, resize_mask
from diffeditor_app.engine.method.energy import Levels, attract, similarity
from diffeditor_app.engine.method.plans import EditPlan, block_pairs, latent_mask
from diffeditor_app.engine.requests import EditRequest, Kind, Point, check_mask, wire
from diffeditor_app.engine.settings import FAST_BOOSTED, BankMode, TaskSettings
from diffeditor_app.engine.tasks.base import Scene, TaskSpec

FACE_PROMPT = "a photo of a human face"  # the reference code's prompt for faces
MIN_BOX_SHARE = 0.25  # a box around the points is at least this share of the shorter side

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels


@dataclass(frozen=True, kw_only=True, eq=False)
class FaceEdit(EditRequest):
    """Move a face's landmarks (handle -> target pairs, in image pixels) with landmark
    guidance: the edit energy alone, everywhere unless a face mask limits it. The edit works
    on a square crop three face boxes wide and is put back into the full photo."""

    prompt: str = field(  # empty (a front end's shared prompt box left empty): FACE_PROMPT
        default=FACE_PROMPT, metadata=wire(Kind.TEXT, f"what the image shows ({FACE_PROMPT})")
    )
    pairs: tuple[tuple[Point, Point], ...] = field(
        default=(),
        metadata=wire(
            Kind.POINT_PAIRS,
            "HX,HY:TX,TY, a face point and its target (repeat for more pairs)",
            flag="--points",
            required=False,  # the CLI also finds them from a reference face or sliders
        ),
    )
    face_box: Box | None = field(  # None: the box around the points and their targets
        default=None,
        metadata=wire(Kind.BOX, "X0,Y0,X1,Y1 of the face (default: around the points)"),
    )
    mask: np.ndarray | None = field(  # H x W bool: guidance and change only inside
        default=None,
        metadata=wire(
            Kind.MASK, "optional face mask, non-zero = inside", sized_like="image", what="face mask"
        ),
    )
    whole_image: bool = False  # True: the image is the crop already (see `cropped`)

    def __post_init__(self) -> None:
        if not self.prompt:
            object.__setattr__(self, "prompt", FACE_PROMPT)

    def box(self) -> Box:
        """The face box given, or the box around every point and target, grown about its
        centre to at least MIN_BOX_SHARE of the image's shorter side."""
        if self.face_box is not None:
            return self.face_box
        xs = [p.x for pair in self.pairs for p in pair]
        ys = [p.y for pair in self.pairs for p in pair]
        side = MIN_BOX_SHARE * min(self.image.width, self.image.height)
        half_w = max(max(xs) - min(xs), side) / 2
        half_h = max(max(ys) - min(ys), side) / 2
        cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
        return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)

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
        crop = face_crop(self.box(), self.image.width, self.image.height)
        for number, (handle, target) in enumerate(self.pairs, start=1):
            if not all(crop.contains(*point) for point in (handle, target)):
                raise InvalidInput(
                    f"Face point {number} or its target lies outside the crop around the face "
                    f"({', '.join(map(str, crop.as_list()))}); keep the points on the face."
                )
        if self.mask is not None:
            check_mask(self.mask, self.image, "face mask")
            if not self.whole_image and not crop_mask(self.mask, crop).any():
                raise InvalidInput("The face mask lies outside the crop around the face.")

    def working_crop(self) -> CropBox | None:
        if self.whole_image:
            return None
        return face_crop(self.box(), self.image.width, self.image.height)

    def cropped(self, crop: CropBox) -> FaceEdit:
        def shift(point: tuple[float, float]) -> Point:
            return Point(point[0] - crop.x0, point[1] - crop.y0)

        x0, y0, x1, y1 = self.box()
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


@dataclass(frozen=True)
class LandmarkEnergy:
    """Drag's per-pair edit term alone, for many pairs at once:
    E_edit = sum_levels sum_pairs attract(w_edit, mean sim(F_gen[t], F_gud[h])) / (L P), no
    content term (it returns 0). Drag gathers each pair's 3x3 blocks separately; with a
    face's 68 pairs that is 136 gathers per level and as many full-size gradient buffers.
    Here every pair's cells are gathered in one go and averaged per pair with index_add:
    the same numbers, one gather per level."""

    targets: torch.Tensor  # every pair's target-block cells, concatenated
    handles: torch.Tensor  # the handle-block cell each of them is compared with
    pair: torch.Tensor  # the pair each cell belongs to, 0..P-1
    pairs: int  # P
    w_edit: float

    @classmethod
    def of(
        cls, targets: list[torch.Tensor], handles: list[torch.Tensor], w_edit: float
    ) -> LandmarkEnergy:
        """From per-pair cell lists, as drag's energy takes them."""
        pair = torch.cat([torch.full_like(t, number) for number, t in enumerate(targets)])
        return cls(torch.cat(targets), torch.cat(handles), pair, len(targets), w_edit)

    def __call__(
        self, gen: Levels, gud: Levels, ref: Levels | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        edit = gen[0].new_zeros(())
        levels = len(gen)
        counts = torch.bincount(self.pair, minlength=self.pairs)
        for f_gen, f_gud in zip(gen, gud, strict=True):
            s = similarity(f_gen[:, self.targets], f_gud[:, self.handles])
            sums = s.new_zeros(self.pairs).index_add(0, self.pair, s)
            mean = sums / counts.clamp_min(1).to(s.dtype)
            edit = edit + attract(self.w_edit, mean[counts > 0]).sum() / (levels * self.pairs)
        return edit, gen[0].new_zeros(())


def plan_face(
    request: FaceEdit, frame: Frame, settings: TaskSettings, device: torch.device
) -> EditPlan:
    """Landmark guidance (ALGORITHM.md §7.6): drag's per-pair edit energy on 3x3 blocks and
    nothing else (no content, no inpaint term), on the whole crop unless a face mask limits
    it; the sampling starts from the inverted z_T itself."""
    grid = frame.grid_shape
    targets, handles = [], []
    for handle, target in request.pairs:
        t_idx, h_idx = block_pairs(grid, frame.cell_of(grid, *handle), frame.cell_of(grid, *target))
        targets.append(torch.from_numpy(t_idx).to(device))
        handles.append(torch.from_numpy(h_idx).to(device))
    region = request.edit_region()
    guided = latent_mask(resize_mask(region, frame.latent_shape), device)
    return EditPlan(
        energy=LandmarkEnergy.of(targets, handles, settings.w_edit),
        grad_mask=guided,
        sde_mask=guided,
        initial_latent=lambda z_T: z_T[:1].clone(),
        region=region,
    )


DEFAULTS = TaskSettings(  # landmark guidance: drag's numbers with its edit energy alone
    cfg_scale=4.0,
    guidance_strength=2.0,
    guidance_lambda=0.04,
    w_edit=4.0,
    w_content=0.0,  # no content energy: the whole face may change
    w_inpaint=0.0,
    bank_mode=BankMode.CONCAT,
    bank_from=5,
    ip_scale=0.05,  # the reference code's image-prompt scale for faces
    fast=FAST_BOOSTED,  # drag's boost, for drag's edit term (not tuned on faces)
)


def examples(scene: Scene) -> dict[str, EditRequest]:
    """The corners of the scene's object moved together without a mask: many points in
    landmark mode, on a crop around them (no face detector needed)."""
    rows, cols = np.nonzero(scene.mask)
    x0, x1, y0, y1 = float(cols.min()), float(cols.max()), float(rows.min()), float(rows.max())
    shift = (x1 - x0) / 4
    corners = [Point(x, y) for x in (x0, x1) for y in (y0, y1)]
    return {
        "face": FaceEdit(
            image=scene.image,
            pairs=tuple((corner, Point(corner.x + shift, corner.y)) for corner in corners),
            steps=scene.steps,
        )
    }


SPEC = TaskSpec(
    name="face",
    summary="move a face's landmarks: its points, a reference face or sliders",
    request=FaceEdit,
    defaults=DEFAULTS,
    planner=plan_face,
    examples=examples,
)
