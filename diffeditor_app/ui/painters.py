"""The canvas's layer painters, in z-order (`LAYER_PAINTERS`), and the display copies they
reuse between frames (`DisplayCache`).

  image    the current image (or the staged candidate, or the original while comparing)
  preview  the running edit's live preview, stretched over the image
  masks    translucent mask overlays: the active mask in its colour, the task's other masks
           dimmer, the rest hidden
  pairs    drag pairs as numbered arrows (red handle, blue target)
  box      the move box (dashed) and a 50 % ghost of the moved object
  paste    the reference object at its paste place and scale, semi-transparent
  face     the face task's points and targets (and the reference face's), face_tool.py
  tool     the overlay of the tool the mouse drives (the brush outline)
A layer of the session (masks, pairs, box, paste) shows when the task uses it or the
chosen tool edits it (`layer_shown`); the chosen tool previews its layer's live value and
paints its marks on it (handles, the selected point's rings). While a candidate or the
original is shown, those layers are hidden: the user is looking at a picture, not setting
up an edit. A painter is `(painter, view, host) -> None`; it asks the host (`PaintHost`,
the canvas) what to draw and never tests a tool's name.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QWidget

from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import BBox, DragPair, MaskName
from diffeditor_app.document.tasks import DOCUMENT_TASKS
from diffeditor_app.engine.imaging.geometry import mask_bbox
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.ui.drawing import (
    HANDLE_COLOR,
    POINT_RADIUS_PX,
    TARGET_COLOR,
    View,
    cosmetic,
    draw_arrow,
    draw_frame,
    draw_label,
    draw_placed,
    in_view,
)
from diffeditor_app.ui.face_tool import paint_face
from diffeditor_app.ui.qimage import (
    cutout,
    overlay_pixels,
    overlay_value,
    qimage_array,
    rgb_to_qimage,
)
from diffeditor_app.ui.tasks import VIEWS
from diffeditor_app.ui.tools import Layer, Tool, move_placement, paste_placement

MASK_COLORS = {
    MaskName.OBJECT: QColor(140, 60, 255),  # violet: the object (also on the reference)
    MaskName.REGION: QColor(30, 200, 120),  # green: drag's editable region
    MaskName.FILL: QColor(255, 170, 20),  # amber: what should fill the vacated area
    MaskName.REFERENCE: QColor(140, 60, 255),
}
OTHER_MASK_DIM = 0.45  # opacity of the task's other masks, relative to the active one
GHOST_OPACITY = 0.5  # the moved object's live ghost
PASTE_OPACITY = 0.65  # the placed paste layer
FOLLOW_FADE = 0.55  # relative opacity of a paste layer that only follows the cursor
LABEL_PX = 12  # drag pair numbers
MIN_MIP_PX = 32  # no mip level is halved below this side
CHECKER_PX = 8  # transparent images show on a checkerboard of these squares
CHECKER_LIGHT, CHECKER_DARK = QColor(200, 200, 200), QColor(150, 150, 150)
HINT_COLOR = QColor(170, 170, 170)
HINT_MARGIN_PX = 8


class MipImage:
    """A display copy of an image (ARGB32 premultiplied) with halved levels built on
    demand, so a zoomed-out view is smoothed from the nearest larger level instead of
    aliasing."""

    def __init__(self, image: QImage) -> None:
        self.levels = [image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)]

    def for_zoom(self, zoom: float) -> QImage:
        wanted = max(0, math.floor(math.log2(1.0 / zoom))) if zoom < 1 else 0
        while len(self.levels) <= wanted:
            last = self.levels[-1]
            if min(last.width(), last.height()) < MIN_MIP_PX:
                break
            self.levels.append(
                last.scaled(
                    max(last.width() // 2, 1),
                    max(last.height() // 2, 1),
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        return self.levels[min(wanted, len(self.levels) - 1)]


class MaskOverlay:
    """One mask as an ARGB32 image in its colour at full alpha (opacity is applied when
    drawing), updated one bounding box at a time."""

    def __init__(self, mask: np.ndarray, color: QColor) -> None:
        height, width = mask.shape
        self.color = color
        self.shape = mask.shape
        self.image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        qimage_array(self.image)[:] = overlay_pixels(mask, color, 1.0)

    def update(self, bbox: BBox, pixels: np.ndarray) -> None:
        x0, y0, x1, y1 = bbox
        value = overlay_value(self.color, 1.0)
        qimage_array(self.image)[y0:y1, x0:x1] = np.where(pixels, value, np.uint32(0))


def _checker_brush() -> QBrush:
    tile = QPixmap(2 * CHECKER_PX, 2 * CHECKER_PX)
    tile.fill(CHECKER_LIGHT)
    painter = QPainter(tile)
    painter.fillRect(0, 0, CHECKER_PX, CHECKER_PX, CHECKER_DARK)
    painter.fillRect(CHECKER_PX, CHECKER_PX, CHECKER_PX, CHECKER_PX, CHECKER_DARK)
    painter.end()
    return QBrush(tile)


class DisplayCache:
    """What the painters reuse between frames: the shown image's mip levels, one overlay
    per mask, masks' bounding boxes and cut-outs. Each mask has a version, bumped by
    `mask_changed`, that keys the bounding boxes and cut-outs."""

    def __init__(self) -> None:
        self.checker: QBrush | None = None
        self.clear()

    def clear(self) -> None:
        self.shown: tuple[SourceImage, MipImage] | None = None
        self.overlays: dict[MaskName, MaskOverlay] = {}
        self.versions: dict[MaskName, int] = {}
        self.empty: dict[MaskName, int] = {}  # mask -> version at which it was empty
        self.bboxes: dict[MaskName, tuple[object, int, BBox | None]] = {}
        self.cutouts: dict[str, tuple[object, int, QImage | None]] = {}

    def mip(self, image: SourceImage) -> MipImage:
        if self.shown is None or self.shown[0] is not image:
            self.shown = (image, MipImage(rgb_to_qimage(image.rgb, image.alpha)))
        return self.shown[1]

    def checkerboard(self) -> QBrush:
        if self.checker is None:
            self.checker = _checker_brush()
        return self.checker

    def mask_changed(self, name: MaskName, bbox: BBox | None, mask: np.ndarray | None) -> None:
        """The session changed `mask` inside `bbox` (None: anywhere); None for a mask this
        canvas does not show."""
        self.versions[name] = self.versions.get(name, 0) + 1
        overlay = self.overlays.get(name)
        if overlay is None:
            return
        if mask is None or bbox is None or overlay.shape != mask.shape:
            del self.overlays[name]
        else:
            x0, y0, x1, y1 = bbox
            overlay.update(bbox, mask[y0:y1, x0:x1])

    def show_mask(self, name: MaskName, mask: np.ndarray, bbox: BBox, pixels: np.ndarray) -> None:
        """Show `pixels` in a box of a mask's overlay (a stroke's live preview)."""
        overlay = self.overlays.get(name)
        if overlay is None or overlay.shape != mask.shape:
            overlay = self.overlays[name] = MaskOverlay(mask, MASK_COLORS[name])
        overlay.update(bbox, pixels)
        self.empty.pop(name, None)

    def overlay(self, name: MaskName, mask: np.ndarray) -> MaskOverlay | None:
        """The mask's overlay; None while the mask is empty (checked once per version)."""
        overlay = self.overlays.get(name)
        if overlay is not None:
            return overlay
        version = self.versions.get(name, 0)
        if self.empty.get(name) == version:
            return None
        if not mask.any():
            self.empty[name] = version
            return None
        overlay = self.overlays[name] = MaskOverlay(mask, MASK_COLORS[name])
        return overlay

    def bbox(self, name: MaskName, mask: np.ndarray | None) -> BBox | None:
        if mask is None:
            return None
        version = self.versions.get(name, 0)
        cached = self.bboxes.get(name)
        if cached is None or cached[0] is not mask or cached[1] != version:
            cached = (mask, version, mask_bbox(mask))
            self.bboxes[name] = cached
        return cached[2]

    def cutout(
        self, key: str, image: SourceImage, name: MaskName, mask: np.ndarray | None
    ) -> QImage | None:
        """The pixels of `image` under mask `name`, cropped to its bbox, cached."""
        bbox = self.bbox(name, mask)
        if mask is None or bbox is None or mask.shape != (image.height, image.width):
            return None
        version = self.versions.get(name, 0)
        cached = self.cutouts.get(key)
        if cached is None or cached[0] is not image or cached[1] != version:
            cached = (image, version, cutout(image.rgb, mask, bbox))
            self.cutouts[key] = cached
        return cached[2]


class PaintHost(Protocol):
    """What the canvas offers its painters."""

    session: EditSession | None
    target: str  # "image" or "reference"
    cache: DisplayCache
    live_preview: QImage | None  # the running edit's preview
    mask_name: MaskName  # the active mask
    mask_opacity: float
    mask_visible: bool

    @property
    def comparing(self) -> bool: ...  # a candidate or the original is shown

    def displayed(self) -> SourceImage | None: ...

    def image_shape(self) -> tuple[int, int] | None: ...

    def masks(self) -> dict[MaskName, np.ndarray]: ...  # the target's masks

    def object_bbox(self) -> BBox | None: ...

    def reference_bbox(self) -> BBox | None: ...

    def chosen_tool(self) -> Tool: ...  # the tool chosen in the tool bar

    def pointer_tool(self) -> Tool: ...  # the tool the mouse drives now

    def viewport(self) -> QWidget: ...


def layer_shown(host: PaintHost, layer: Layer) -> bool:
    """Whether `layer` of the session is drawn now: see the module docstring."""
    session = host.session
    if session is None or host.comparing:
        return False
    if layer is Layer.MASK:
        return host.mask_visible
    if host.target != "image":
        return False
    if layer is Layer.PASTE and session.state.reference is None:
        return False
    return layer in VIEWS[session.task].layers or host.chosen_tool().edits is layer


def _paint_marks(painter: QPainter, view: View, host: PaintHost, layer: Layer) -> None:
    """The chosen tool's marks on `layer`, when it edits that layer."""
    tool = host.chosen_tool()
    if tool.edits is layer:
        painter.save()
        in_view(painter)
        tool.paint_on_layer(painter, view)
        painter.restore()


def paint_image(painter: QPainter, view: View, host: PaintHost) -> None:
    image = host.displayed()
    if image is None:
        _paint_hint(painter, host)
        return
    target = QRectF(0, 0, image.width, image.height)
    if image.alpha is not None:
        painter.save()
        painter.resetTransform()
        painter.fillRect(view.transform.mapRect(target), host.cache.checkerboard())
        painter.restore()
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, view.zoom < 1)
    painter.drawImage(target, host.cache.mip(image).for_zoom(view.zoom))


def _paint_hint(painter: QPainter, host: PaintHost) -> None:
    painter.resetTransform()
    painter.setPen(HINT_COLOR)
    text = (
        "Load a reference image"
        if host.target == "reference"
        else "Open an image (Ctrl+O) or drop it here"
    )
    flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap  # never clipped
    margin = HINT_MARGIN_PX
    painter.drawText(host.viewport().rect().adjusted(margin, margin, -margin, -margin), flags, text)


def paint_preview(painter: QPainter, view: View, host: PaintHost) -> None:
    shape = host.image_shape()
    if host.live_preview is None or shape is None:
        return
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    painter.drawImage(QRectF(0, 0, shape[1], shape[0]), host.live_preview)


def shown_masks(host: PaintHost) -> list[tuple[MaskName, float]]:
    """(mask, opacity) to draw, bottom first: the task's other masks dim, the active one
    last in full; a mask the task does not use shows only while the chosen tool edits
    masks (Paste paints the reference only)."""
    if not layer_shown(host, Layer.MASK):
        return []
    active = host.mask_name
    masks = host.masks()
    others = () if host.target == "reference" else DOCUMENT_TASKS[host.session.task].reads
    opacity = host.mask_opacity
    shown = [(name, opacity * OTHER_MASK_DIM) for name in others if name != active]
    if host.target == "reference" or active in others or host.chosen_tool().edits is Layer.MASK:
        shown.append((active, opacity))
    return [(name, opacity) for name, opacity in shown if name in masks]


def paint_masks(painter: QPainter, view: View, host: PaintHost) -> None:
    masks = host.masks()
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, view.zoom < 1)
    for name, opacity in shown_masks(host):
        overlay = host.cache.overlay(name, masks[name])
        if overlay is None:
            continue
        painter.setOpacity(opacity)
        height, width = overlay.shape
        painter.drawImage(QRectF(0, 0, width, height), overlay.image)


def paint_pairs(painter: QPainter, view: View, host: PaintHost) -> None:
    if not layer_shown(host, Layer.PAIRS):
        return
    pairs: list[DragPair] = host.chosen_tool().preview(Layer.PAIRS, host.session.state.pairs)
    if not pairs:
        return
    in_view(painter)
    for pair in pairs:
        if pair.target is not None:
            draw_arrow(painter, view.pixel_centre(pair.handle), view.pixel_centre(pair.target))
    font = QFont(painter.font())
    font.setPixelSize(LABEL_PX)
    font.setBold(True)
    painter.setFont(font)
    r = POINT_RADIUS_PX
    for index, pair in enumerate(pairs):
        for point, color in ((pair.handle, HANDLE_COLOR), (pair.target, TARGET_COLOR)):
            if point is not None:
                painter.setPen(cosmetic(Qt.GlobalColor.white, 1.5))
                painter.setBrush(color)
                painter.drawEllipse(view.pixel_centre(point), r, r)
        draw_label(painter, view.pixel_centre(pair.handle) + QPointF(r + 2, -r - 2), str(index + 1))
    _paint_marks(painter, view, host, Layer.PAIRS)


def paint_box(painter: QPainter, view: View, host: PaintHost) -> None:
    if not layer_shown(host, Layer.BOX):
        return
    bbox = host.object_bbox()
    if bbox is None:
        return
    session = host.session
    box = host.chosen_tool().preview(Layer.BOX, session.state.box)
    placement = move_placement(bbox, box)
    if box.dx != 0 or box.dy != 0 or box.scale != 1:
        mask = session.state.masks.get(MaskName.OBJECT)
        ghost = host.cache.cutout("ghost", session.state.current, MaskName.OBJECT, mask)
        if ghost is not None:
            draw_placed(painter, view, ghost, QPointF(bbox[0], bbox[1]), placement, GHOST_OPACITY)
    in_view(painter)
    draw_frame(painter, view, placement.map_box(bbox))
    _paint_marks(painter, view, host, Layer.BOX)


def paint_paste(painter: QPainter, view: View, host: PaintHost) -> None:
    """The paste layer where it lands; before it is placed, faded where the chosen tool
    previews it outside a gesture (following the cursor)."""
    if not layer_shown(host, Layer.PASTE):
        return
    bbox = host.reference_bbox()
    if bbox is None:
        return
    session, tool = host.session, host.chosen_tool()
    paste = tool.preview(Layer.PASTE, session.state.paste)
    if paste.at is None:
        return
    following = session.state.paste.at is None and not tool.busy
    reference = session.state.reference
    mask = session.state.masks.get(MaskName.REFERENCE)
    layer = host.cache.cutout("paste", reference, MaskName.REFERENCE, mask)
    if layer is None:
        return
    placement = paste_placement(bbox, paste)
    opacity = PASTE_OPACITY * FOLLOW_FADE if following else PASTE_OPACITY
    draw_placed(painter, view, layer, QPointF(bbox[0], bbox[1]), placement, opacity)
    in_view(painter)
    draw_frame(painter, view, placement.map_box(bbox))
    _paint_marks(painter, view, host, Layer.PASTE)


def paint_tool(painter: QPainter, view: View, host: PaintHost) -> None:
    in_view(painter)
    host.pointer_tool().paint_overlay(painter, view)


LAYER_PAINTERS = (
    paint_image,
    paint_preview,
    paint_masks,
    paint_pairs,
    paint_box,
    paint_paste,
    paint_face,
    paint_tool,
)
