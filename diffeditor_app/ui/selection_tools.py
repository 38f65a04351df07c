"""Selection tools on the canvas: magic wand, object selection (GrabCut) and Segment
Anything, the refine actions, and the controller that runs them.

Each selection and each refinement is ONE undo step (`commands.replace_mask` over the
changed bounding box) on the mask the brush paints, so it combines with strokes.

- Magic wand (W): a click selects the similar colour around it; Shift adds, Alt
  subtracts, a plain click replaces. Tolerance and "contiguous" are tool options
  (preferences, not undo steps). It runs in the GUI thread: under 20 ms at 4 MP.
- Object select (O): drag a box around the object (GrabCut, no download); afterwards a
  click marks "object here", a right- or Alt-click "background here", and the cut is made
  again. Runs in the selection worker thread.
- Segment Anything (S): clicks (left positive, right or Alt negative) and a box prompt
  SAM; its image embedding is computed once per image in the worker thread. Without
  weights the tool says so and offers the other two.
For the two prompted tools a box drag starts a new object (plain: replaces the mask,
Shift: adds, Alt: subtracts), and further clicks refine that object; Shift+click starts
another object, added; Escape or Enter finishes the object. An object is refined only
while the mask is what its last result made it: a stroke or an undo in between starts a
new one.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter
from PySide6.QtWidgets import QCheckBox, QLabel, QMessageBox, QSpinBox, QToolBar, QWidget

from diffeditor_app.document import commands
from diffeditor_app.document.state import MaskName
from diffeditor_app.engine.errors import EngineError
from diffeditor_app.engine.selection import (
    Box,
    Click,
    Combine,
    Method,
    SelectionPrompt,
    SelectionRequest,
    WandSettings,
    combine,
    magic_wand,
    refine,
)
from diffeditor_app.engine.selection.sam import SAM_APPROX_GB, SamSpec, find_sam
from diffeditor_app.engine.selection.wand import MAX_TOLERANCE
from diffeditor_app.runtime.selection import SelectionClient
from diffeditor_app.runtime.weights import sam_source
from diffeditor_app.ui.tools import LEFT, RIGHT, Layer, Tool, ToolHost, View, cosmetic

SELECTION_TOOLS = (  # name, label, key: after the window's own tools
    ("wand", "Magic wand", "W"),
    ("object", "Object select", "O"),
    ("sam", "Segment Anything", "S"),
)
REFINE_ACTIONS = (  # what, label, shortcut
    ("grow", "&Grow", "Ctrl+]"),
    ("shrink", "&Shrink", "Ctrl+["),
    ("feather", "&Feather (smooth the outline)", "Shift+F6"),
    ("fill", "Fill &holes", "Ctrl+Shift+H"),
    ("invert", "&Invert", "Ctrl+Shift+I"),
)
METHOD_LABELS = {Method.GRABCUT: "Object select", Method.SAM: "Segment Anything"}
DRAG_PX = 4.0  # screen pixels a press must travel to be a box drag, not a click
POINT_PX = 5  # prompt point radius, screen pixels
POSITIVE_COLOR = QColor(40, 210, 90)
NEGATIVE_COLOR = QColor(235, 60, 60)
BOX_COLOR = QColor(255, 255, 255)
MESSAGE_MS = 6000
SAM_MISSING = (
    "Segment Anything needs its weights ({source}, about {gb:g} GB), which are not here. "
    "Set them up in Settings > Model setup, or select with Object select (a box, no "
    "download) or the Magic wand."
)


def combine_mode(modifiers) -> Combine:
    """Photoshop's modifiers: Shift adds, Alt subtracts, nothing replaces."""
    if modifiers & Qt.KeyboardModifier.ShiftModifier:
        return Combine.ADD
    if modifiers & Qt.KeyboardModifier.AltModifier:
        return Combine.SUBTRACT
    return Combine.REPLACE


class WandTool(Tool):
    """A click selects the region of similar colour (see the module docstring)."""

    name = "wand"
    edits = Layer.MASK

    def __init__(self, host: ToolHost, controller: SelectionController) -> None:
        super().__init__(host)
        self.controller = controller

    @property
    def cursor(self) -> Qt.CursorShape:
        return Qt.CursorShape.PointingHandCursor

    def press(self, pos, modifiers, button=LEFT) -> bool:
        if button == LEFT and self.edited_session() is not None and self.inside_image(pos):
            self.controller.wand(Click(pos.x(), pos.y()), combine_mode(modifiers))
        return False


class PromptTool(Tool):
    """A box drag or clicks prompt a selection method in the worker (GrabCut or SAM)."""

    edits = Layer.MASK

    method = Method.GRABCUT

    def __init__(self, host: ToolHost, controller: SelectionController) -> None:
        super().__init__(host)
        self.controller = controller
        self.start: QPointF | None = None
        self.live: QPointF | None = None
        self.button = LEFT
        self.press_modifiers = Qt.KeyboardModifier.NoModifier
        self.finish()

    def finish(self) -> None:
        """The object is done: the next prompt starts a new one."""
        self.prompt = SelectionPrompt()
        self.mode = Combine.REPLACE
        self.base: np.ndarray | None = None  # the mask before this object
        self.mask_name: MaskName | None = None
        self.made: np.ndarray | None = None  # the mask as this object's last result left it
        self.host.refresh()

    @property
    def cursor(self) -> Qt.CursorShape:
        return Qt.CursorShape.CrossCursor

    @property
    def busy(self) -> bool:
        return self.start is not None

    def press(self, pos, modifiers, button=LEFT) -> bool:
        if (
            button not in (LEFT, RIGHT)
            or self.edited_session() is None
            or not self.inside_image(pos)
        ):
            return False
        if self.host.active_mask() is None:
            return False
        self.start, self.live, self.button = QPointF(pos), QPointF(pos), button
        self.press_modifiers = modifiers
        return True

    def move(self, pos, modifiers) -> None:
        if self.start is not None:
            self.live = QPointF(pos)
            self.host.refresh()

    def release(self, pos, modifiers) -> None:
        if self.start is None:
            return
        start, self.start, self.live = self.start, None, None
        travel = math.hypot(pos.x() - start.x(), pos.y() - start.y()) * self.host.zoom
        modifiers = self.press_modifiers
        if travel >= DRAG_PX and self.button == LEFT:
            box = Box(start.x(), start.y(), pos.x(), pos.y()).normalized()
            self._box(box, modifiers)
        else:
            negative = self.button == RIGHT or bool(modifiers & Qt.KeyboardModifier.AltModifier)
            self._click(Click(start.x(), start.y(), positive=not negative), modifiers)
        self.host.refresh()

    def cancel(self) -> None:
        self.start = self.live = None
        self.host.refresh()

    def key(self, key, modifiers) -> bool:
        if key in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
            self.prompt.clicks or self.prompt.boxes
        ):
            self.finish()
            return True
        return False

    def _current(self) -> bool:
        """Whether the object in progress may be refined: same mask, as we left it."""
        if self.base is None or self.mask_name != self.host.active_mask():
            return False
        mask = self.host.session.mask(self.mask_name)
        return self.made is not None and np.array_equal(mask, self.made)

    def _begin(self, mode: Combine) -> None:
        self.finish()
        self.mask_name = self.host.active_mask()
        self.base = self.host.session.mask(self.mask_name).copy()
        self.mode = mode
        self.made = self.base.copy()

    def _box(self, box: Box, modifiers) -> None:
        self._begin(combine_mode(modifiers))
        self._run(SelectionPrompt(boxes=(box,)))

    def _click(self, click: Click, modifiers) -> None:
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        if self._current() and not shift:
            self._run(replace(self.prompt, clicks=(*self.prompt.clicks, click)))
            return
        if not click.positive:
            self.controller.say("Click on the object first; a negative click refines it.")
            return
        self._start_with_click(click, Combine.ADD if shift else Combine.REPLACE)

    def _start_with_click(self, click: Click, mode: Combine) -> None:
        self.controller.say("Drag a box around the object first; clicks then refine it.")

    def _run(self, prompt: SelectionPrompt) -> None:
        self.prompt = prompt
        self.controller.run(self, prompt)

    def apply(self, mask: np.ndarray) -> bool:
        """A result for the object in progress: one undo step; False when nothing changed."""
        if self.base is None or self.mask_name is None:
            return False
        session = self.host.session
        if session is None or session.mask(self.mask_name).shape != mask.shape:
            return False
        after = combine(self.base, mask, self.mode)
        label = METHOD_LABELS[self.method]
        pushed = commands.replace_mask(session, self.mask_name, after, f"{label}")
        self.made = after.copy()
        return pushed

    def paint_overlay(self, painter: QPainter, view: View) -> None:
        if self.start is not None and self.live is not None:
            rect = QRectF(
                view.at(self.start.x(), self.start.y()), view.at(self.live.x(), self.live.y())
            )
            _dashed_rect(painter, rect.normalized())
        if not self._current():
            return
        for box in self.prompt.boxes:
            _dashed_rect(painter, QRectF(view.at(box.x0, box.y0), view.at(box.x1, box.y1)))
        for click in self.prompt.clicks:
            painter.setPen(cosmetic(Qt.GlobalColor.white, 1.5))
            painter.setBrush(POSITIVE_COLOR if click.positive else NEGATIVE_COLOR)
            painter.drawEllipse(view.at(click.x, click.y), POINT_PX, POINT_PX)


class ObjectTool(PromptTool):
    """GrabCut from a box; clicks afterwards are hints."""

    name = "object"
    method = Method.GRABCUT


class SamTool(PromptTool):
    """Segment Anything: clicks alone start an object too."""

    name = "sam"
    method = Method.SAM

    def _start_with_click(self, click: Click, mode: Combine) -> None:
        self._begin(mode)
        self._run(SelectionPrompt(clicks=(click,)))


def _dashed_rect(painter: QPainter, rect: QRectF) -> None:
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(cosmetic(QColor(0, 0, 0, 200), 1))
    painter.drawRect(rect)
    dashes = cosmetic(BOX_COLOR, 1)
    dashes.setDashPattern([4, 4])
    painter.setPen(dashes)
    painter.drawRect(rect)


def ask_alternative(parent: QWidget, text: str) -> str:
    """What to do without SAM's weights: "object", "wand", "setup" or "" (stay)."""
    box = QMessageBox(
        QMessageBox.Icon.Information, "Segment Anything is not set up", text, parent=parent
    )
    choices = {
        box.addButton("Use Object select", QMessageBox.ButtonRole.AcceptRole): "object",
        box.addButton("Use Magic wand", QMessageBox.ButtonRole.AcceptRole): "wand",
        box.addButton("Model setup…", QMessageBox.ButtonRole.ActionRole): "setup",
    }
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return choices.get(box.clickedButton(), "")


class SelectionController(QObject):
    """Runs the selection tools for one canvas: the wand here, GrabCut and SAM through the
    selection worker; builds the tool options bar and the Select menu's refine actions."""

    message = Signal(str)  # a sentence for the status bar
    setup_wanted = Signal()  # open the model setup dialog

    def __init__(self, canvas, settings, client: SelectionClient, parent: QWidget) -> None:
        super().__init__(parent)
        self.canvas, self.settings, self.client, self.parent_widget = (
            canvas,
            settings,
            client,
            parent,
        )
        self.tools = {
            "wand": WandTool(canvas, self),
            "object": ObjectTool(canvas, self),
            "sam": SamTool(canvas, self),
        }
        for tool in self.tools.values():
            canvas.add_tool(tool)
        self._jobs: dict[int, PromptTool] = {}
        client.embedding.connect(self.on_embedding)
        client.finished.connect(self.on_finished)
        client.failed.connect(self.on_failed)
        client.cancelled.connect(self.on_cancelled)

    # -- the wand (GUI thread) --------------------------------------------------------------

    def wand_settings(self) -> WandSettings:
        return WandSettings(
            tolerance=self.settings.get("wand_tolerance"),
            contiguous=self.settings.get("wand_contiguous"),
        )

    def wand(self, click: Click, how: Combine) -> None:
        session, name = self.canvas.session, self.canvas.active_mask()
        if session is None or name is None:
            return
        try:
            picked = magic_wand(session.image.rgb, click, self.wand_settings())
        except EngineError as error:
            self.say(str(error))
            return
        after = combine(session.mask(name), picked, how)
        if not commands.replace_mask(session, name, after, "Magic wand"):
            self.say("The magic wand changed nothing; try another tolerance.")

    # -- GrabCut and SAM (worker thread) ----------------------------------------------------

    def sam_spec(self) -> SamSpec:
        return SamSpec(sam_source(self.settings), device=self.settings.get("device"))

    def sam_ready(self) -> bool:
        return find_sam(sam_source(self.settings)) is not None

    def tool_chosen(self, name: str, current: str) -> str:
        """The tool to switch to when the user picks `name`: SAM without weights says so and
        offers the other two (or the model setup)."""
        if name != "sam" or self.sam_ready():
            if name == "sam":
                self.prime()
            return name
        text = self._sam_missing()
        self.say(text)
        choice = ask_alternative(self.parent_widget, text)
        if choice == "setup":
            self.setup_wanted.emit()
            return "sam" if self.sam_ready() else current
        return choice or current

    def _sam_missing(self) -> str:
        return SAM_MISSING.format(source=sam_source(self.settings), gb=SAM_APPROX_GB)

    def prime(self) -> None:
        """Start SAM's embedding of the open image in the background, before the first click."""
        session = self.canvas.session
        if session is None or not self.sam_ready():
            return
        request = SelectionRequest(session.image.rgb, SelectionPrompt(), Method.SAM)
        self.client.submit(request, self.sam_spec(), prime=True)
        self.say("Segment Anything is reading the image…")

    def run(self, tool: PromptTool, prompt: SelectionPrompt) -> None:
        session = self.canvas.session
        if session is None:
            return
        if tool.method is Method.SAM and not self.sam_ready():
            self.say(self._sam_missing())
            return
        request = SelectionRequest(session.image.rgb, prompt, tool.method)
        try:
            request.validate()
        except EngineError as error:
            self.say(str(error))
            return
        sam = self.sam_spec() if tool.method is Method.SAM else None
        job = self.client.submit(request, sam)
        self._jobs = {job: tool}
        self.say(f"{METHOD_LABELS[tool.method]}: selecting…")

    @Slot(int)
    def on_embedding(self, job: int) -> None:
        self.say("Segment Anything is reading the image (once per image)…")

    @Slot(int, object)
    def on_finished(self, job: int, result) -> None:
        tool = self._jobs.pop(job, None)
        if result is None:
            self.say("Segment Anything is ready: click on an object.")
            return
        if tool is None:
            return
        if not result.mask.any():
            self.say(f"{METHOD_LABELS[result.method]} found nothing there.")
        changed = tool.apply(result.mask)
        done = f"{METHOD_LABELS[result.method]}: {result.seconds:.2f} s"
        self.say(done if changed else f"{done}; the mask did not change.")

    @Slot(int, str)
    def on_failed(self, job: int, message: str) -> None:
        self._jobs.pop(job, None)
        self.say(message)

    @Slot(int)
    def on_cancelled(self, job: int) -> None:
        self._jobs.pop(job, None)

    def say(self, text: str) -> None:
        self.message.emit(text)

    # -- refine -----------------------------------------------------------------------------

    def refine(self, what: str) -> None:
        """Grow, shrink, feather, fill holes or invert the mask the brush paints: one step."""
        session, name = self.canvas.session, self.canvas.active_mask()
        if session is None or name is None:
            return
        mask = session.mask(name)
        radius = self.settings.get("refine_radius")
        operations = {
            "grow": lambda: refine.grow(mask, radius),
            "shrink": lambda: refine.shrink(mask, radius),
            "feather": lambda: refine.smooth(mask, radius),
            "fill": lambda: refine.fill_holes(mask),
            "invert": lambda: refine.invert(mask),
        }
        label = dict((w, text.replace("&", "")) for w, text, _ in REFINE_ACTIONS)[what]
        if not commands.replace_mask(session, name, operations[what](), f"{label} mask"):
            self.say(f"{label}: the mask did not change.")

    def add_menu(self, menu) -> list[QAction]:
        actions = []
        for what, label, shortcut in REFINE_ACTIONS:
            action = QAction(label, self.parent_widget)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _=False, w=what: self.refine(w))
            menu.addAction(action)
            actions.append(action)
        return actions

    def options_bar(self) -> QToolBar:
        """Tolerance, contiguous and the refine radius, bound to the preferences."""
        bar = QToolBar("Selection options", self.parent_widget)
        bar.setObjectName("selection-options")
        self.tolerance = QSpinBox(minimum=0, maximum=MAX_TOLERANCE)
        self.tolerance.setToolTip("Magic wand tolerance (0..255 per channel)")
        self.contiguous = QCheckBox("Contiguous")
        self.radius = QSpinBox(minimum=1, maximum=refine.MAX_RADIUS, suffix=" px")
        self.radius.setToolTip("Radius of Grow, Shrink and Feather")
        for widget in (
            QLabel("Tolerance "),
            self.tolerance,
            self.contiguous,
            QLabel(" Refine "),
            self.radius,
        ):
            bar.addWidget(widget)
        self._show_options()
        self.tolerance.valueChanged.connect(lambda v: self.settings.remember("wand_tolerance", v))
        self.contiguous.toggled.connect(lambda v: self.settings.remember("wand_contiguous", v))
        self.radius.valueChanged.connect(lambda v: self.settings.remember("refine_radius", v))
        self.settings.changed.connect(self._show_options)
        return bar

    def _show_options(self, _key: str = "") -> None:
        for widget, key in (
            (self.tolerance, "wand_tolerance"),
            (self.contiguous, "wand_contiguous"),
            (self.radius, "refine_radius"),
        ):
            widget.blockSignals(True)
            if isinstance(widget, QCheckBox):
                widget.setChecked(self.settings.get(key))
            else:
                widget.setValue(self.settings.get(key))
            widget.blockSignals(False)
