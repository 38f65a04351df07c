"""The canvas: the editor widget on an `ImageView` (image_view.py: zoom, pan, fit). It routes
events: view -> image coordinates are converted once and dispatched to the active tool
(tools.py, layer_tools.py); painting is the ordered tuple of layer painters in painters.py.

One class serves the main canvas (target "image": the session's current image and its
masks, drag pairs, move box and paste layer) and the reference side panel (target
"reference": the reference image and its REFERENCE mask, brush / eraser / pan only).

The canvas holds no document state: it reads the session, subscribes to its signals and
repaints, and changes it only through undo commands pushed by its tools. Tool options
(brush size, hardness, mask opacity and visibility) are view preferences, not undo steps.
It never tests a tool's name or class: it asks the tools through the tool protocol
(tools.Tool), and `add_tool` plugs in another one.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import numpy as np
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QTextEdit

from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import BBox, MaskName
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.runtime.settings import BRUSH_LIMITS, default_brush, setting
from diffeditor_app.ui.drawing import View
from diffeditor_app.ui.face_tool import FaceTool
from diffeditor_app.ui.image_view import ImageView
from diffeditor_app.ui.layer_tools import BoxTool, PasteTool, PointTool
from diffeditor_app.ui.painters import LAYER_PAINTERS, DisplayCache, layer_shown
from diffeditor_app.ui.qimage import pil_to_qimage, rgb_to_qimage
from diffeditor_app.ui.tools import DELETE_KEYS, BrushTool, Layer, PanTool, Tool

TARGETS = ("image", "reference")
TEXT_INPUTS = (QLineEdit, QAbstractSpinBox, QTextEdit)  # where typed keys are text
WHEEL_ZOOM_STEP = 1.2  # one wheel notch

HARDNESS = setting("brush_hardness")
OPACITY = setting("mask_opacity")
BRUSH_KEY_STEP = 1.15  # [ and ] scale the brush size by this much (at least 1 px)
IMAGE_HINT = QSize(800, 600)
DEFAULT_SIDE = 512  # the brush before an image is open suits this side
REFERENCE_HINT = QSize(240, 180)


class Canvas(ImageView):
    """The editing canvas; see the module docstring."""

    cursor_moved = Signal(int, int)  # the image pixel under the mouse
    brush_size_changed = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)

        self.session: EditSession | None = None
        self.target = "image"
        self.hover: QPointF | None = None
        self._brush_size = default_brush(DEFAULT_SIDE, DEFAULT_SIDE)
        self._brush_hardness = HARDNESS.default
        self._mask_opacity = OPACITY.default
        self._mask_visible = True
        self._mask_name = MaskName.OBJECT
        self.live_preview: QImage | None = None
        self._candidate: SourceImage | None = None
        self._original = False
        self._click_took_focus = False  # the next press only brought the keys back
        self._last_pixel: tuple[int, int] | None = None
        self._connections: list[tuple[object, Callable]] = []
        self.cache = DisplayCache()

        self._pan = PanTool(self)  # the pan tool, also the spring-loaded Space mode
        self._middle_pan = PanTool(self)
        self._tools: dict[str, Tool] = {}
        for tool in (
            BrushTool(self),
            BrushTool(self, erase=True),
            PointTool(self),
            BoxTool(self),
            PasteTool(self),
            FaceTool(self),
            self._pan,
        ):
            self.add_tool(tool)
        self._tool = "brush"
        self._pending_tool: str | None = None  # set_tool while a button is held
        self._spring = False  # Space held: the pan tool until it is released
        self._spring_release = False  # Space released during the pan drag
        self._gesture: Tool | None = None
        self._gesture_button = Qt.MouseButton.NoButton
        self.layers: tuple[Callable[[QPainter, View, Canvas], None], ...] = LAYER_PAINTERS
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
        self._candidate, self.live_preview, self._original = None, None, False
        self._clear_caches()
        if session is not None:
            for signal, slot in (
                (session.image_changed, self._on_image_changed),
                (session.mask_changed, self._on_mask_changed),
                (session.reference_changed, self._on_reference_changed),
                (session.pairs_changed, self.refresh),
                (session.box_changed, self.refresh),
                (session.paste_changed, self.refresh),
                (session.face_changed, self.refresh),
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
        self.cache.clear()
        self._shape = None

    def on_image(self) -> bool:
        return self.target == "image"

    def _source(self) -> SourceImage | None:
        """The target's image being edited (not the candidate or the original)."""
        if self.session is None:
            return None
        if self.target == "reference":
            return self.session.state.reference
        return self.session.state.current

    def displayed(self) -> SourceImage | None:
        """The image shown: the candidate or the original while one is shown."""
        if self.session is not None and self.target == "image":
            if self._original:
                return self.session.state.original
            if self._candidate is not None:
                return self._candidate
        return self._source()

    def image_shape(self) -> tuple[int, int] | None:
        source = self._source()
        return (source.height, source.width) if source is not None else None

    def masks(self) -> dict[MaskName, np.ndarray]:
        """The target's masks: the image's, or the reference's REFERENCE mask."""
        if self.session is None:
            return {}
        masks = self.session.state.masks
        if self.target == "reference":
            mask = masks.get(MaskName.REFERENCE)
            return {MaskName.REFERENCE: mask} if mask is not None else {}
        return {name: mask for name, mask in masks.items() if name is not MaskName.REFERENCE}

    # -- session signals --------------------------------------------------------------------

    def _on_image_changed(self) -> None:
        self.cache.shown = None
        self.cache.cutouts.pop("ghost", None)
        if self.target == "image":
            self._reshape()
        self.refresh()

    def _on_reference_changed(self) -> None:
        self.cache.cutouts.pop("paste", None)
        if self.target == "reference":
            self._cancel_gesture()
            self.cache.shown = None
            self._reshape()
        self.refresh()

    def _reshape(self) -> None:
        """A new image of another size: new scene rectangle, fit it."""
        if self.image_shape() != self._shape:
            self.cache.overlays.clear()
            self.fit()

    def _on_task_changed(self, _task: str) -> None:
        self.refresh()

    def _on_mask_changed(self, name: str, bbox) -> None:
        name = MaskName(name)
        mask = self.masks().get(name)
        self.cache.mask_changed(name, bbox, mask)
        if mask is None:
            return
        if bbox is None:
            self.refresh()
        else:
            self.repaint_image_rect(QRectF(bbox[0], bbox[1], bbox[2] - bbox[0], bbox[3] - bbox[1]))
            if name is MaskName.OBJECT:
                self.refresh()  # the move box follows the object's bounding box

    # -- tool host (tools.ToolHost) ---------------------------------------------------------

    def active_mask(self) -> MaskName | None:
        """The mask the brush paints on this canvas, if the session has it."""
        name = MaskName.REFERENCE if self.target == "reference" else self._mask_name
        return name if name in self.masks() else None

    def show_mask(self, name: MaskName, bbox: BBox, pixels: np.ndarray | None) -> None:
        """Show `pixels` (None: the mask itself) in a box of a mask's overlay: a stroke's
        live preview, without touching the document."""
        mask = self.masks().get(name)
        if mask is None:
            return
        x0, y0, x1, y1 = bbox
        if pixels is None:
            pixels = mask[y0:y1, x0:x1]
        self.cache.show_mask(name, mask, bbox, pixels)
        self.repaint_image_rect(QRectF(x0, y0, x1 - x0, y1 - y0))

    def _cached_bbox(self, name: MaskName) -> BBox | None:
        mask = self.session.state.masks.get(name) if self.session is not None else None
        return self.cache.bbox(name, mask)

    def object_bbox(self) -> BBox | None:
        return self._cached_bbox(MaskName.OBJECT) if self.target == "image" else None

    def reference_bbox(self) -> BBox | None:
        if self.session is None or self.session.state.reference is None:
            return None
        return self._cached_bbox(MaskName.REFERENCE)

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

    def add_tool(self, tool: Tool) -> None:
        """Offer `tool` under its name (tools.Tool: the canvas needs nothing else)."""
        self._tools[tool.name] = tool

    def chosen_tool(self) -> Tool:
        """The tool chosen in the tool bar: its layer shows, and it previews and marks it."""
        return self._tools[self._tool]

    def _active_tool(self) -> Tool:
        """The tool a press goes to: the chosen one, or the pan tool while Space is held."""
        return self._pan if self._spring else self.chosen_tool()

    def pointer_tool(self) -> Tool:
        """The tool the mouse drives now: its cursor and overlay are shown."""
        return self._gesture or self._active_tool()

    @property
    def mask_name(self) -> MaskName:
        return MaskName.REFERENCE if self.target == "reference" else self._mask_name

    @mask_name.setter
    def mask_name(self, name: MaskName) -> None:
        name = MaskName(name)
        if self.target == "reference" and name is not MaskName.REFERENCE:
            raise ValueError("the reference canvas paints only the reference mask")
        if name is not self._mask_name:
            for tool in self._tools.values():
                if tool.edits is Layer.MASK:
                    tool.cancel()
            self._mask_name = name
            self.refresh()

    @property
    def brush_size(self) -> int:
        return self._brush_size

    @brush_size.setter
    def brush_size(self, size: int) -> None:
        size = int(min(max(round(float(size)), BRUSH_LIMITS[0]), BRUSH_LIMITS[1]))
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
        self._brush_hardness = float(min(max(hardness, HARDNESS.minimum), HARDNESS.maximum))
        self.refresh()

    @property
    def mask_opacity(self) -> float:
        return self._mask_opacity

    @mask_opacity.setter
    def mask_opacity(self, opacity: float) -> None:
        self._mask_opacity = float(min(max(opacity, OPACITY.minimum), OPACITY.maximum))
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
            self.live_preview = None
        elif isinstance(rgb, Image.Image):
            self.live_preview = pil_to_qimage(rgb)
        else:
            self.live_preview = rgb_to_qimage(np.asarray(rgb))
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

    def sizeHint(self) -> QSize:
        """A modest hint, not QGraphicsView's (the scene rectangle, which here includes wide
        pan margins, up to 2/3 of the screen): the window gives the main canvas the room
        left by the panels, and the reference panel stays narrow."""
        return REFERENCE_HINT if self.target == "reference" else IMAGE_HINT

    # -- events: converted to image coordinates once, dispatched to the tool ------------------

    def _image_pos(self, event) -> QPointF:
        return self.map_to_image(event.position())

    def mousePressEvent(self, event) -> None:
        event.accept()
        if self._click_took_focus:  # a click that takes the keys back from a field
            self._click_took_focus = False  # paints nothing: the user meant to leave it
            return
        pos = self._image_pos(event)
        self._set_hover(pos)
        if self._gesture is not None or self.session is None:
            return  # one gesture at a time; a second button is ignored
        button = event.button()
        middle = button == Qt.MouseButton.MiddleButton
        tool = self._middle_pan if middle else self._active_tool()
        if self.comparing and not tool.views_only:
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
                self.brush_size = max(size + 1, round(size * BRUSH_KEY_STEP))
            else:
                self.brush_size = min(size - 1, round(size / BRUSH_KEY_STEP))
            return
        tool = self._active_tool()
        if self._gesture is None and tool.key(key, modifiers):
            event.accept()
            return
        if key in DELETE_KEYS and self._gesture is None and self._delete_selected(tool):
            event.accept()
            return
        event.ignore()  # let the window see it (backslash to compare, shortcuts)

    def _delete_selected(self, active: Tool) -> bool:
        """Delete reaches the other tools whose layer shows (the drag pairs' selection while
        the brush is out)."""
        return any(
            tool is not active
            and tool.edits is not None
            and layer_shown(self, tool.edits)
            and tool.delete_selected()
            for tool in self._tools.values()
        )

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            event.accept()
            if not event.isAutoRepeat() and self._spring:
                self._pop_spring()
            return
        event.ignore()

    def _pop_spring(self) -> None:
        if self._gesture is not None and self._gesture is self._pan:
            self._spring_release = True  # pop when the drag ends
            return
        self._spring = self._spring_release = False
        self._update_cursor()
        self.refresh()

    def focusInEvent(self, event) -> None:
        self._click_took_focus = event.reason() == Qt.FocusReason.MouseFocusReason
        super().focusInEvent(event)

    def enterEvent(self, event) -> None:
        """The pointer coming back from a field brings the keys with it, as in Krita."""
        focus = QApplication.focusWidget()
        if isinstance(focus, TEXT_INPUTS) and focus.window() is self.window():
            self.setFocus(Qt.FocusReason.OtherFocusReason)
        super().enterEvent(event)

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
        active = self._active_tool()
        active.repaint_hover(old, pos)
        if self.chosen_tool() is not active:  # Space held: the chosen tool's marks follow too
            self.chosen_tool().repaint_hover(old, pos)

    def _update_cursor(self) -> None:
        self.viewport().setCursor(self.pointer_tool().cursor)

    # -- painting -------------------------------------------------------------------------

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        view = View(painter.worldTransform(), self.zoom)
        for layer in self.layers:
            painter.save()
            layer(painter, view, self)
            painter.restore()
