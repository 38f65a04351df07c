"""The canvas: a QGraphicsView whose scene coordinates are image pixels, painted as an
ordered tuple of layer painters and edited through small tool classes (tools.py).

One class serves the main canvas (target "image": the session's current image and its
masks, drag pairs, move box and paste layer) and the reference side panel (target
"reference": the reference image and its REFERENCE mask, brush / eraser / pan only).

The canvas holds no document state: it reads the session, subscribes to its signals and
repaints, and changes it only through undo commands pushed by its tools. Tool options
(brush size, hardness, mask opacity and visibility) are view preferences, not undo steps.

Painting, in z-order (`Canvas.layers`):
  image    the current image (or the staged candidate, or the original while comparing)
  preview  the running edit's live preview, stretched over the image
  masks    translucent mask overlays: the active mask in its colour, the task's other masks
           dimmer, the rest hidden
  pairs    drag pairs as numbered arrows (red handle, blue target)
  box      the move box (dashed, 4 corner handles) and a 50 % ghost of the moved object
  paste    the reference object at its paste place and scale, semi-transparent
  tool     the active tool's overlay (the brush outline)
While a candidate or the original is shown, the edit overlays (masks, pairs, box, paste)
are hidden: the user is looking at a picture, not setting up an edit.
Images are drawn in image coordinates (nearest-neighbour above 100 %, smoothed from a
mip level below); every line, handle and label is drawn in viewport coordinates with
cosmetic pens, so widths and handle sizes stay constant on screen at any zoom.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import numpy as np
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QPainter,
    QPainterPath,
    QPixmap,
    QPolygonF,
    QTransform,
)
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView

from diffeditor_app.document.session import BBox, DragPair, EditSession, MaskName, PasteLayer
from diffeditor_app.engine.images import SourceImage
from diffeditor_app.engine.settings import Task
from diffeditor_app.ui.qimage import (
    cutout,
    overlay_pixels,
    overlay_value,
    pil_to_qimage,
    qimage_array,
    rgb_to_qimage,
)
from diffeditor_app.ui.tools import (
    BoxTool,
    BrushTool,
    PanTool,
    PasteTool,
    PointTool,
    Tool,
    View,
    box_rect,
    cosmetic,
    frame_corners,
    frame_rect_on_view,
    mask_bbox,
    paste_offset,
    placed_rect,
    placement_transform,
)

TOOL_NAMES = ("brush", "eraser", "points", "box", "paste", "pan")
MASK_TOOLS = ("brush", "eraser", "wand", "object", "sam")  # show the mask they change
TARGETS = ("image", "reference")
MASK_COLORS = {
    MaskName.OBJECT: QColor(140, 60, 255),  # violet: the object (also on the reference)
    MaskName.REGION: QColor(30, 200, 120),  # green: drag's editable region
    MaskName.FILL: QColor(255, 170, 20),  # amber: what should fill the vacated area
    MaskName.REFERENCE: QColor(140, 60, 255),
}
TASK_MASKS = {  # masks a task uses: shown dimmer when they are not the active one
    Task.MOVE: (MaskName.OBJECT, MaskName.FILL),
    Task.DRAG: (MaskName.REGION,),
    Task.APPEARANCE: (MaskName.OBJECT,),
    Task.PASTE: (),
}
OTHER_MASK_DIM = 0.45  # opacity of the task's other masks, relative to the active one
GHOST_OPACITY = 0.5  # the moved object's live ghost
PASTE_OPACITY = 0.65  # the placed paste layer (0.35 while it only follows the cursor)
HANDLE_PX = 9  # corner handle squares, screen pixels
POINT_RADIUS_PX = 6  # drag handle / target dots, screen pixels
HANDLE_COLOR = QColor(235, 50, 50)
TARGET_COLOR = QColor(40, 110, 255)
SELECTED_COLOR = QColor(255, 220, 40)
HALO = QColor(0, 0, 0, 150)
BACKDROP = QColor(42, 42, 42)
MIN_ZOOM, MAX_ZOOM = 0.01, 64.0
WHEEL_ZOOM_STEP = 1.2  # one wheel notch
FIT_MARGIN_PX = 8
PAN_KEEP_PX = 64  # panning stops with this much of the image still on screen
MIN_BRUSH, MAX_BRUSH = 1, 500  # the brush_size preference's range
DEFAULT_BRUSH = 32
IMAGE_HINT = QSize(800, 600)
REFERENCE_HINT = QSize(240, 180)


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
            if min(last.width(), last.height()) < 32:
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
    tile = QPixmap(16, 16)
    tile.fill(QColor(200, 200, 200))
    painter = QPainter(tile)
    painter.fillRect(0, 0, 8, 8, QColor(150, 150, 150))
    painter.fillRect(8, 8, 8, 8, QColor(150, 150, 150))
    painter.end()
    return QBrush(tile)


class Canvas(QGraphicsView):
    """The editing canvas; see the module docstring."""

    zoom_changed = Signal(float)
    cursor_moved = Signal(int, int)  # the image pixel under the mouse
    brush_size_changed = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setBackgroundBrush(BACKDROP)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setMinimumSize(64, 64)

        self.session: EditSession | None = None
        self.target = "image"
        self.hover: QPointF | None = None
        self._brush_size = DEFAULT_BRUSH
        self._brush_hardness = 1.0
        self._mask_opacity = 0.5
        self._mask_visible = True
        self._mask_name = MaskName.OBJECT
        self._preview: QImage | None = None
        self._candidate: SourceImage | None = None
        self._original = False
        self._fit_mode = True
        self._last_pixel: tuple[int, int] | None = None
        self._connections: list[tuple[object, Callable]] = []
        self._checker: QBrush | None = None
        self._clear_caches()

        self._tools: dict[str, Tool] = {
            "brush": BrushTool(self),
            "eraser": BrushTool(self, erase=True),
            "points": PointTool(self),
            "box": BoxTool(self),
            "paste": PasteTool(self),
            "pan": PanTool(self),
        }
        self._middle_pan = PanTool(self)
        self._tool = "brush"
        self._pending_tool: str | None = None  # set_tool while a button is held
        self._spring = False  # Space held: the pan tool until it is released
        self._spring_release = False  # Space released during the pan drag
        self._gesture: Tool | None = None
        self._gesture_button = Qt.MouseButton.NoButton
        self.layers: tuple[Callable[[QPainter, View], None], ...] = (
            self._paint_image,
            self._paint_preview,
            self._paint_masks,
            self._paint_pairs,
            self._paint_box,
            self._paint_paste,
            self._paint_tool,
        )
        self._update_scene_rect()
        self._update_cursor()

    # -- session and target ---------------------------------------------------------------

    def set_session(self, session: EditSession | None) -> None:
        self._cancel_gesture()
        for signal, slot in self._connections:
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
        self._connections = []
        self.session = session
        self._candidate, self._preview, self._original = None, None, False
        self._clear_caches()
        if session is not None:
            for signal, slot in (
                (session.image_changed, self._on_image_changed),
                (session.mask_changed, self._on_mask_changed),
                (session.reference_changed, self._on_reference_changed),
                (session.pairs_changed, self.refresh),
                (session.box_changed, self.refresh),
                (session.paste_changed, self.refresh),
                (session.task_changed, self._on_task_changed),
            ):
                signal.connect(slot)
                self._connections.append((signal, slot))
        self.fit()

    def set_target(self, target: str) -> None:
        """Show "image" (the current image and its masks) or "reference" (the reference
        image and its REFERENCE mask)."""
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        self._cancel_gesture()
        self.target = target
        if target == "reference":
            self._mask_name = MaskName.REFERENCE
        elif self._mask_name is MaskName.REFERENCE:
            self._mask_name = MaskName.OBJECT
        self._clear_caches()
        self.fit()

    def _clear_caches(self) -> None:
        self._shown: tuple[SourceImage, MipImage] | None = None
        self._overlays: dict[MaskName, MaskOverlay] = {}
        self._versions: dict[MaskName, int] = {}
        self._empty: dict[MaskName, int] = {}  # mask -> version at which it was empty
        self._bboxes: dict[MaskName, tuple[object, int, BBox | None]] = {}
        self._cutouts: dict[str, tuple[object, int, QImage | None]] = {}
        self._shape: tuple[int, int] | None = None

    def on_image(self) -> bool:
        return self.target == "image"

    def _source(self) -> SourceImage | None:
        """The target's image being edited (not the candidate or the original)."""
        if self.session is None:
            return None
        if self.target == "reference":
            return self.session.state.reference
        return self.session.state.current

    def _displayed(self) -> SourceImage | None:
        if self.session is not None and self.target == "image":
            if self._original:
                return self.session.state.original
            if self._candidate is not None:
                return self._candidate
        return self._source()

    def image_shape(self) -> tuple[int, int] | None:
        source = self._source()
        return (source.height, source.width) if source is not None else None

    def _masks(self) -> dict[MaskName, np.ndarray]:
        if self.session is None:
            return {}
        masks = self.session.state.masks
        if self.target == "reference":
            mask = masks.get(MaskName.REFERENCE)
            return {MaskName.REFERENCE: mask} if mask is not None else {}
        return {name: mask for name, mask in masks.items() if name is not MaskName.REFERENCE}

    # -- session signals --------------------------------------------------------------------

    def _on_image_changed(self) -> None:
        self._shown = None
        self._cutouts.pop("ghost", None)
        if self.target == "image":
            self._reshape()
        self.refresh()

    def _on_reference_changed(self) -> None:
        self._cutouts.pop("paste", None)
        if self.target == "reference":
            self._cancel_gesture()
            self._shown = None
            self._reshape()
        self.refresh()

    def _reshape(self) -> None:
        """A new image of another size: new scene rectangle, fit it."""
        if self.image_shape() != self._shape:
            self._overlays.clear()
            self.fit()

    def _on_task_changed(self, _task: str) -> None:
        self.refresh()

    def _on_mask_changed(self, name: str, bbox) -> None:
        name = MaskName(name)
        self._versions[name] = self._versions.get(name, 0) + 1
        if name not in self._masks():
            self._overlays.pop(name, None)
            return
        mask = self._masks()[name]
        overlay = self._overlays.get(name)
        if overlay is not None:
            if bbox is None or overlay.shape != mask.shape:
                del self._overlays[name]
            else:
                x0, y0, x1, y1 = bbox
                overlay.update(bbox, mask[y0:y1, x0:x1])
        if bbox is None:
            self.refresh()
        else:
            self._update_image_rect(QRectF(bbox[0], bbox[1], bbox[2] - bbox[0], bbox[3] - bbox[1]))
            if name is MaskName.OBJECT:
                self.refresh()  # the move box follows the object's bounding box

    # -- tool host (tools.ToolHost) ---------------------------------------------------------

    def active_mask(self) -> MaskName | None:
        """The mask the brush paints on this canvas, if the session has it."""
        name = MaskName.REFERENCE if self.target == "reference" else self._mask_name
        return name if name in self._masks() else None

    def show_mask(self, name: MaskName, bbox: BBox, pixels: np.ndarray | None) -> None:
        """Show `pixels` (None: the mask itself) in a box of a mask's overlay: a stroke's
        live preview, without touching the document."""
        mask = self._masks().get(name)
        if mask is None:
            return
        x0, y0, x1, y1 = bbox
        if pixels is None:
            pixels = mask[y0:y1, x0:x1]
        overlay = self._overlays.get(name)
        if overlay is None or overlay.shape != mask.shape:
            overlay = self._overlays[name] = MaskOverlay(mask, MASK_COLORS[name])
        overlay.update(bbox, pixels)
        self._empty.pop(name, None)
        self._update_image_rect(QRectF(x0, y0, x1 - x0, y1 - y0))

    def _cached_bbox(self, name: MaskName) -> BBox | None:
        mask = self.session.state.masks.get(name) if self.session is not None else None
        if mask is None:
            return None
        version = self._versions.get(name, 0)
        cached = self._bboxes.get(name)
        if cached is None or cached[0] is not mask or cached[1] != version:
            cached = (mask, version, mask_bbox(mask))
            self._bboxes[name] = cached
        return cached[2]

    def object_bbox(self) -> BBox | None:
        return self._cached_bbox(MaskName.OBJECT) if self.target == "image" else None

    def reference_bbox(self) -> BBox | None:
        if self.session is None or self.session.state.reference is None:
            return None
        return self._cached_bbox(MaskName.REFERENCE)

    def scroll_image(self, dx: float, dy: float) -> None:
        """Scroll the view by (dx, dy) image pixels."""
        zoom = self.zoom
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(dx * zoom))
        v.setValue(v.value() + round(dy * zoom))

    def refresh(self, *_args) -> None:
        self.viewport().update()

    def _update_image_rect(self, rect: QRectF, pad_px: int = 2) -> None:
        view = self.viewportTransform().mapRect(rect).toAlignedRect()
        self.viewport().update(view.adjusted(-pad_px, -pad_px, pad_px, pad_px))

    # -- tools and options ----------------------------------------------------------------

    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, name: str) -> None:
        """Switch tools; while a mouse button is held the switch waits for its release."""
        if name not in self._tools:
            raise ValueError(f"tool must be one of {tuple(self._tools)}, got {name!r}")
        if self._gesture is not None:
            self._pending_tool = name
            return
        if name != self._tool:
            self._tools[self._tool].cancel()
            self._tool = name
        self._update_cursor()
        self.refresh()

    def add_tool(self, name: str, tool: Tool) -> None:
        """Offer one more tool (the selection tools live in their own module)."""
        self._tools[name] = tool

    def _active_tool(self) -> Tool:
        return self._tools["pan"] if self._spring else self._tools[self._tool]

    @property
    def mask_name(self) -> MaskName:
        return MaskName.REFERENCE if self.target == "reference" else self._mask_name

    @mask_name.setter
    def mask_name(self, name: MaskName) -> None:
        name = MaskName(name)
        if self.target == "reference" and name is not MaskName.REFERENCE:
            raise ValueError("the reference canvas paints only the reference mask")
        if name is not self._mask_name:
            self._tools["brush"].cancel()
            self._tools["eraser"].cancel()
            self._mask_name = name
            self.refresh()

    @property
    def brush_size(self) -> int:
        return self._brush_size

    @brush_size.setter
    def brush_size(self, size: int) -> None:
        size = int(min(max(round(float(size)), MIN_BRUSH), MAX_BRUSH))
        if size != self._brush_size:
            self._brush_size = size
            self.brush_size_changed.emit(size)
            self.refresh()

    @property
    def brush_hardness(self) -> float:
        """0..1; only the brush outline shows it (see tools.BrushTool)."""
        return self._brush_hardness

    @brush_hardness.setter
    def brush_hardness(self, hardness: float) -> None:
        self._brush_hardness = float(min(max(hardness, 0.0), 1.0))
        self.refresh()

    @property
    def mask_opacity(self) -> float:
        return self._mask_opacity

    @mask_opacity.setter
    def mask_opacity(self, opacity: float) -> None:
        self._mask_opacity = float(min(max(opacity, 0.0), 1.0))
        self.refresh()

    @property
    def mask_visible(self) -> bool:
        return self._mask_visible

    def set_mask_visible(self, visible: bool) -> None:
        self._mask_visible = bool(visible)
        self.refresh()

    # -- what is shown ----------------------------------------------------------------------

    def set_preview(self, rgb) -> None:
        """A running edit's live preview (H x W x 3 uint8, any size, or a PIL image),
        stretched over the whole image; None hides it."""
        if rgb is None:
            self._preview = None
        elif isinstance(rgb, Image.Image):
            self._preview = pil_to_qimage(rgb)
        else:
            self._preview = rgb_to_qimage(np.asarray(rgb))
        self.refresh()

    def set_candidate(self, image: SourceImage | None) -> None:
        """Show a finished result instead of the current image (None: the current image)."""
        if image is not self._candidate:
            self._candidate = image
            self.refresh()

    def show_original(self, on: bool) -> None:
        """Show the session's original image while `on` (hold-to-compare)."""
        if bool(on) != self._original:
            self._original = bool(on)
            self.refresh()

    @property
    def comparing(self) -> bool:
        return self.target == "image" and (self._original or self._candidate is not None)

    # -- zoom and pan -----------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def map_to_image(self, point: QPointF) -> QPointF:
        """Viewport coordinates -> continuous image coordinates."""
        return self.viewportTransform().inverted()[0].map(QPointF(point))

    def map_from_image(self, x: float, y: float) -> QPointF:
        """Continuous image coordinates -> viewport coordinates."""
        return self.viewportTransform().map(QPointF(x, y))

    def _viewport_centre(self) -> QPointF:
        size = self.viewport().size()
        return QPointF(size.width() / 2, size.height() / 2)

    def fit(self) -> None:
        """Zoom so the whole image shows, centred; stays fitted on resize until the user
        zooms."""
        self._fit_mode = True
        shape = self.image_shape()
        self._shape = shape
        if shape is None:
            self._set_zoom(1.0, None)
            self._update_scene_rect()
            return
        height, width = shape
        size = self.viewport().size()
        scale = min(
            max(size.width() - 2 * FIT_MARGIN_PX, 1) / width,
            max(size.height() - 2 * FIT_MARGIN_PX, 1) / height,
        )
        self._set_zoom(scale, None, centre=QPointF(width / 2, height / 2))

    def zoom_to(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to `scale` keeping the image point under `anchor` (viewport coordinates;
        default the viewport's centre) in place."""
        self._fit_mode = False
        self._set_zoom(scale, anchor)

    def zoom_100(self) -> None:
        self.zoom_to(1.0)

    def _set_zoom(self, scale: float, anchor: QPointF | None, centre: QPointF | None = None):
        old = self.zoom
        scale = float(min(max(scale, MIN_ZOOM), MAX_ZOOM))
        view_anchor = QPointF(anchor) if anchor is not None else self._viewport_centre()
        image_anchor = centre if centre is not None else self.map_to_image(view_anchor)
        if centre is not None:
            view_anchor = self._viewport_centre()
        self.setTransform(QTransform.fromScale(scale, scale))
        self._update_scene_rect()
        self._place(image_anchor, view_anchor)
        if not math.isclose(old, scale, rel_tol=1e-9):
            self.zoom_changed.emit(scale)
        self.refresh()

    def _update_scene_rect(self) -> None:
        """The image plus margins wide enough to pan it until PAN_KEEP_PX remain on
        screen; the scroll bars are hidden but do the scrolling."""
        shape = self.image_shape()
        height, width = shape if shape is not None else (1, 1)
        size, zoom = self.viewport().size(), self.zoom
        mx = max(size.width() - PAN_KEEP_PX, 0) / zoom
        my = max(size.height() - PAN_KEEP_PX, 0) / zoom
        self.setSceneRect(QRectF(-mx, -my, width + 2 * mx, height + 2 * my))

    def _place(self, image_point: QPointF, view_point: QPointF) -> None:
        """Scroll so `image_point` shows at `view_point`."""
        now = self.viewportTransform().map(image_point)
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(now.x() - view_point.x()))
        v.setValue(v.value() + round(now.y() - view_point.y()))

    def sizeHint(self) -> QSize:
        """A modest hint, not QGraphicsView's (the scene rectangle, which here includes wide
        pan margins, up to 2/3 of the screen): the window gives the main canvas the room
        left by the panels, and the reference panel stays narrow."""
        return REFERENCE_HINT if self.target == "reference" else IMAGE_HINT

    def resizeEvent(self, event) -> None:
        old = event.oldSize()
        centre = None
        if old.isValid() and old.width() > 0:
            centre = self.map_to_image(QPointF(old.width() / 2, old.height() / 2))
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()
        else:
            self._update_scene_rect()
            if centre is not None:
                self._place(centre, self._viewport_centre())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._fit_mode:
            self.fit()

    # -- events: converted to image coordinates once, dispatched to the tool ------------------

    def _image_pos(self, event) -> QPointF:
        return self.map_to_image(event.position())

    def mousePressEvent(self, event) -> None:
        event.accept()
        pos = self._image_pos(event)
        self._set_hover(pos)
        if self._gesture is not None or self.session is None:
            return  # one gesture at a time; a second button is ignored
        button = event.button()
        middle = button == Qt.MouseButton.MiddleButton
        tool = self._middle_pan if middle else self._active_tool()
        if self.comparing and not middle and tool is not self._tools["pan"]:
            return  # the overlays are hidden: editing what cannot be seen is refused
        if tool.press(pos, event.modifiers(), button):
            self._gesture, self._gesture_button = tool, button
        self._update_cursor()

    def mouseMoveEvent(self, event) -> None:
        event.accept()
        pos = self._image_pos(event)
        self._set_hover(pos)
        if self._gesture is not None:
            self._gesture.move(pos, event.modifiers())
        else:
            self._active_tool().hover(pos, event.modifiers())
        self._update_cursor()

    def mouseReleaseEvent(self, event) -> None:
        event.accept()
        if self._gesture is None or event.button() != self._gesture_button:
            return
        pos = self._image_pos(event)
        gesture, self._gesture = self._gesture, None
        self._gesture_button = Qt.MouseButton.NoButton
        gesture.release(pos, event.modifiers())
        self._after_gesture()
        self._set_hover(self._image_pos(event))
        self._active_tool().hover(self.hover, event.modifiers())
        self._update_cursor()

    def mouseDoubleClickEvent(self, event) -> None:
        self.mousePressEvent(event)  # a fast second click is a click (points, brush dabs)

    def _after_gesture(self) -> None:
        if self._spring_release:
            self._spring = self._spring_release = False
        if self._pending_tool is not None:
            name, self._pending_tool = self._pending_tool, None
            self.set_tool(name)
        self.refresh()

    def _cancel_gesture(self) -> None:
        if self._gesture is not None:
            self._gesture.cancel()
            self._gesture = None
            self._gesture_button = Qt.MouseButton.NoButton
            self._after_gesture()

    def wheelEvent(self, event) -> None:
        event.accept()
        notches = event.angleDelta().y() / 120.0
        if notches == 0:
            return
        if self._gesture is None and self._active_tool().wheel(notches, event.modifiers()):
            return
        self.zoom_to(self.zoom * WHEEL_ZOOM_STEP**notches, event.position())
        self._set_hover(self._image_pos(event))

    def keyPressEvent(self, event) -> None:
        key, modifiers = event.key(), event.modifiers()
        if key == Qt.Key.Key_Escape and self._gesture is not None:
            event.accept()
            self._cancel_gesture()  # drop the gesture: nothing is pushed
            return
        if key == Qt.Key.Key_Space:
            event.accept()
            if not event.isAutoRepeat() and self._gesture is None and not self._spring:
                self._active_tool().cancel()
                self._spring, self._spring_release = True, False
                self._update_cursor()
                self.refresh()
            return
        if key in (Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight):
            event.accept()
            size = self._brush_size
            if key == Qt.Key.Key_BracketRight:
                self.brush_size = max(size + 1, round(size * 1.15))
            else:
                self.brush_size = min(size - 1, round(size / 1.15))
            return
        tool = self._active_tool()
        if self._gesture is None and tool.key(key, modifiers):
            event.accept()
            return
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self._gesture is None:
            points = self._tools["points"]
            if points is not tool and self._pairs_visible() and points.key(key, modifiers):
                event.accept()
                return
        event.ignore()  # let the window see it (backslash to compare, shortcuts)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            event.accept()
            if not event.isAutoRepeat() and self._spring:
                self._pop_spring()
            return
        event.ignore()

    def _pop_spring(self) -> None:
        if self._gesture is not None and self._gesture is self._tools["pan"]:
            self._spring_release = True  # pop when the drag ends
            return
        self._spring = self._spring_release = False
        self._update_cursor()
        self.refresh()

    def focusOutEvent(self, event) -> None:
        if self._spring:  # the Space release would go elsewhere
            self._pop_spring()
        super().focusOutEvent(event)

    def leaveEvent(self, event) -> None:
        self._set_hover(None)
        super().leaveEvent(event)

    def contextMenuEvent(self, event) -> None:
        event.accept()  # right-click is a tool gesture here

    def event(self, event) -> bool:
        # Space belongs to the canvas (spring-loaded pan), not to a window shortcut.
        if event.type() == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Space:
            event.accept()
            return True
        return super().event(event)

    def _set_hover(self, pos: QPointF | None) -> None:
        old = self.hover
        self.hover = pos
        if pos is not None:
            shape = self.image_shape()
            pixel = (math.floor(pos.x()), math.floor(pos.y()))
            inside = shape is not None and 0 <= pixel[0] < shape[1] and 0 <= pixel[1] < shape[0]
            if inside and pixel != self._last_pixel:
                self._last_pixel = pixel
                self.cursor_moved.emit(*pixel)
        if isinstance(self._active_tool(), BrushTool):
            radius = self._brush_size / 2.0 + 2.0 / max(self.zoom, 1e-6)
            for point in (old, pos):
                if point is not None:
                    rect = QRectF(point.x() - radius, point.y() - radius, 2 * radius, 2 * radius)
                    self._update_image_rect(rect, pad_px=4)
        elif self._tool == "paste" and self.session and self.session.state.paste.at is None:
            self.refresh()  # the unplaced paste layer follows the cursor

    def _update_cursor(self) -> None:
        tool = self._gesture or self._active_tool()
        self.viewport().setCursor(tool.cursor)

    # -- painting -------------------------------------------------------------------------

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        view = View(painter.worldTransform(), self.zoom)
        for layer in self.layers:
            painter.save()
            layer(painter, view)
            painter.restore()

    def _in_view(self, painter: QPainter) -> None:
        """Switch the painter to viewport coordinates for lines, handles and labels."""
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)

    def _paint_image(self, painter: QPainter, view: View) -> None:
        image = self._displayed()
        if image is None:
            self._paint_hint(painter)
            return
        if self._shown is None or self._shown[0] is not image:
            self._shown = (image, MipImage(rgb_to_qimage(image.rgb, image.alpha)))
        target = QRectF(0, 0, image.width, image.height)
        if image.alpha is not None:
            painter.save()
            painter.resetTransform()
            if self._checker is None:
                self._checker = _checker_brush()
            painter.fillRect(view.transform.mapRect(target), self._checker)
            painter.restore()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, view.zoom < 1)
        painter.drawImage(target, self._shown[1].for_zoom(view.zoom))

    def _paint_hint(self, painter: QPainter) -> None:
        painter.resetTransform()
        painter.setPen(QColor(170, 170, 170))
        text = (
            "Load a reference image"
            if self.target == "reference"
            else "Open an image (Ctrl+O) or drop it here"
        )
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap  # never clipped
        painter.drawText(self.viewport().rect().adjusted(8, 8, -8, -8), flags, text)

    def _paint_preview(self, painter: QPainter, view: View) -> None:
        shape = self.image_shape()
        if self._preview is None or shape is None:
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(QRectF(0, 0, shape[1], shape[0]), self._preview)

    def _shown_masks(self) -> list[tuple[MaskName, float]]:
        """(mask, opacity) to draw, bottom first: the task's other masks dim, the active
        one last in full."""
        if not self._mask_visible or self.comparing or self.session is None:
            return []
        active = self.mask_name
        masks = self._masks()
        others = () if self.target == "reference" else TASK_MASKS.get(self.session.task, ())
        shown = [(name, self._mask_opacity * OTHER_MASK_DIM) for name in others if name != active]
        if self.target == "reference" or active in others or self._tool in MASK_TOOLS:
            shown.append((active, self._mask_opacity))  # not a mask the task uses: shown
            # only while a tool that changes it is out (Paste paints the reference only)
        return [(name, opacity) for name, opacity in shown if name in masks]

    def _paint_masks(self, painter: QPainter, view: View) -> None:
        masks = self._masks()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, view.zoom < 1)
        for name, opacity in self._shown_masks():
            overlay = self._overlays.get(name)
            if overlay is None:
                mask, version = masks[name], self._versions.get(name, 0)
                if self._empty.get(name) == version:
                    continue
                if not mask.any():
                    self._empty[name] = version
                    continue
                overlay = self._overlays[name] = MaskOverlay(mask, MASK_COLORS[name])
            painter.setOpacity(opacity)
            height, width = overlay.shape
            painter.drawImage(QRectF(0, 0, width, height), overlay.image)

    def _tool_preview(self, what: str, value):
        tool = self._gesture or self._active_tool()
        return tool.preview(what, value)

    def _pairs_visible(self) -> bool:
        return (
            self.session is not None
            and self.target == "image"
            and not self.comparing
            and (self.session.task is Task.DRAG or self._tool == "points")
        )

    def _paint_pairs(self, painter: QPainter, view: View) -> None:
        if not self._pairs_visible():
            return
        pairs: list[DragPair] = self._tool_preview("pairs", self.session.state.pairs)
        if not pairs:
            return
        selected = None
        if self._tool == "points":
            selected = self._tools["points"].selected
        self._in_view(painter)

        def centre(point) -> QPointF:
            return view.at(point.x + 0.5, point.y + 0.5)

        for pair in pairs:
            if pair.target is not None:
                _arrow(painter, centre(pair.handle), centre(pair.target))
        font = QFont(painter.font())
        font.setPixelSize(12)
        font.setBold(True)
        painter.setFont(font)
        r = POINT_RADIUS_PX
        for index, pair in enumerate(pairs):
            for which, point, color in (
                ("handle", pair.handle, HANDLE_COLOR),
                ("target", pair.target, TARGET_COLOR),
            ):
                if point is None:
                    continue
                at = centre(point)
                if selected is not None and selected.index == index:
                    ring = r + 3 if selected.which == which else r + 2
                    painter.setPen(cosmetic(SELECTED_COLOR, 2))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawEllipse(at, ring, ring)
                painter.setPen(cosmetic(Qt.GlobalColor.white, 1.5))
                painter.setBrush(color)
                painter.drawEllipse(at, r, r)
            _label(painter, centre(pair.handle) + QPointF(r + 2, -r - 2), str(index + 1))

    def _box_visible(self) -> bool:
        return (
            self.session is not None
            and self.target == "image"
            and not self.comparing
            and (self.session.task is Task.MOVE or self._tool == "box")
        )

    def _cutout(self, key: str, image: SourceImage, name: MaskName) -> QImage | None:
        """The pixels of `image` under mask `name`, cropped to its bbox, cached."""
        mask = self.session.state.masks.get(name)
        bbox = self._cached_bbox(name)
        if mask is None or bbox is None or mask.shape != (image.height, image.width):
            return None
        version = self._versions.get(name, 0)
        cached = self._cutouts.get(key)
        if cached is None or cached[0] is not image or cached[1] != version:
            cached = (image, version, cutout(image.rgb, mask, bbox))
            self._cutouts[key] = cached
        return cached[2]

    def _paint_box(self, painter: QPainter, view: View) -> None:
        if not self._box_visible():
            return
        bbox = self.object_bbox()
        if bbox is None:
            return
        box = self._tool_preview("box", self.session.state.box)
        moved = box.dx != 0 or box.dy != 0 or box.scale != 1
        ghost = (
            self._cutout("ghost", self.session.state.current, MaskName.OBJECT) if moved else None
        )
        if ghost is not None:
            painter.save()
            painter.setTransform(
                placement_transform(bbox, box.scale, box.dx, box.dy) * view.transform
            )
            painter.setRenderHint(
                QPainter.RenderHint.SmoothPixmapTransform, box.scale * view.zoom < 1
            )
            painter.setOpacity(GHOST_OPACITY)
            painter.drawImage(QPointF(bbox[0], bbox[1]), ghost)
            painter.restore()
        self._in_view(painter)
        active = self._tool == "box"
        _frame(painter, view, box_rect(bbox, box), handles=active)

    def _paste_visible(self) -> bool:
        return (
            self.session is not None
            and self.target == "image"
            and not self.comparing
            and self.session.state.reference is not None
            and (self.session.task is Task.PASTE or self._tool == "paste")
        )

    def _paint_paste(self, painter: QPainter, view: View) -> None:
        if not self._paste_visible():
            return
        bbox = self.reference_bbox()
        if bbox is None:
            return
        paste: PasteLayer = self._tool_preview("paste", self.session.state.paste)
        opacity = PASTE_OPACITY
        if paste.at is None:  # not placed: follow the cursor while the paste tool is active
            tool = self._tools["paste"]
            if self._tool != "paste" or self.hover is None or not tool._inside(self.hover):
                return
            paste = PasteLayer(tool._clamp(self.hover), paste.scale)
            opacity = PASTE_OPACITY * 0.55
        layer = self._cutout("paste", self.session.state.reference, MaskName.REFERENCE)
        if layer is None:
            return
        dx, dy = paste_offset(bbox, paste.at)
        painter.save()
        painter.setTransform(placement_transform(bbox, paste.scale, dx, dy) * view.transform)
        painter.setRenderHint(
            QPainter.RenderHint.SmoothPixmapTransform, paste.scale * view.zoom < 1
        )
        painter.setOpacity(opacity)
        painter.drawImage(QPointF(bbox[0], bbox[1]), layer)
        painter.restore()
        self._in_view(painter)
        _frame(painter, view, placed_rect(bbox, paste.scale, dx, dy), handles=self._tool == "paste")

    def _paint_tool(self, painter: QPainter, view: View) -> None:
        tool = self._gesture or self._active_tool()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        tool.paint(painter, view)


# -- overlay drawing helpers (viewport coordinates) ---------------------------------------


def _frame(painter: QPainter, view: View, rect, handles: bool) -> None:
    """A dashed two-tone rectangle, with square corner handles when its tool is active."""
    on_view = frame_rect_on_view(rect, view)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setPen(cosmetic(QColor(0, 0, 0, 200), 1))
    painter.drawRect(on_view)
    dashes = cosmetic(Qt.GlobalColor.white, 1)
    dashes.setDashPattern([4, 4])  # marching-ants look: 4 px white over the dark line
    painter.setPen(dashes)
    painter.drawRect(on_view)
    if not handles:
        return
    half = HANDLE_PX / 2
    painter.setPen(cosmetic(QColor(0, 0, 0, 220), 1))
    painter.setBrush(Qt.GlobalColor.white)
    for x, y in frame_corners(rect):
        at = view.at(x, y)
        painter.drawRect(QRectF(at.x() - half, at.y() - half, HANDLE_PX, HANDLE_PX))


def _arrow(painter: QPainter, start: QPointF, end: QPointF) -> None:
    """A white arrow with a dark halo from `start` to `end`, stopping at the dots."""
    dx, dy = end.x() - start.x(), end.y() - start.y()
    length = math.hypot(dx, dy)
    if length < 2 * POINT_RADIUS_PX + 2:
        return
    ux, uy = dx / length, dy / length
    a = QPointF(start.x() + ux * POINT_RADIUS_PX, start.y() + uy * POINT_RADIUS_PX)
    tip = QPointF(end.x() - ux * (POINT_RADIUS_PX + 1), end.y() - uy * (POINT_RADIUS_PX + 1))
    head = min(13.0, length / 2)
    base = QPointF(tip.x() - ux * head, tip.y() - uy * head)
    left = QPointF(base.x() - uy * head * 0.5, base.y() + ux * head * 0.5)
    right = QPointF(base.x() + uy * head * 0.5, base.y() - ux * head * 0.5)
    for pen in (cosmetic(HALO, 5), cosmetic(Qt.GlobalColor.white, 2.5)):
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawLine(a, base)
    painter.setPen(cosmetic(HALO, 1.5))
    painter.setBrush(Qt.GlobalColor.white)
    painter.drawPolygon(QPolygonF([tip, left, right]))


def _label(painter: QPainter, at: QPointF, text: str) -> None:
    """White text with a dark outline, readable on any image."""
    path = QPainterPath()
    path.addText(at, painter.font(), text)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.strokePath(path, cosmetic(HALO, 3))
    painter.fillPath(path, QColor(Qt.GlobalColor.white))
