"""The Advanced fields show the defaults of the model that will run the edit (the server's
in server mode, from its /v1/info), and keep every number typed into them."""

from __future__ import annotations

import threading

from diffeditor_app.document.session import EditSession
from diffeditor_app.document.snapshot import build_request
from diffeditor_app.document.state import MaskName, MoveBox
from diffeditor_app.engine.models.model import ModelProfile
from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.runtime.model_defaults import DefaultsSource
from diffeditor_app.server.api import task_defaults
from diffeditor_app.server.client import ServerAddress
from diffeditor_app.ui.panels import UNKNOWN_DEFAULT, EditPanel

SERVER = ServerAddress("http://gpu-box:8765", "t0ken")
LOCAL = ModelProfile()  # SD1.5's numbers: move S 0.5, eta_in 0.4
REMOTE = ModelProfile(  # the server's model, tuned otherwise
    resolution_range=(256, 512),
    task_overrides={"move": {"guidance_strength": 3.25, "eta_in": 0.15}},
)
REMOTE_INFO = {"task_defaults": task_defaults(REMOTE), "resolution_range": [256, 512]}


def panel_on_a_scene(ask) -> tuple[EditPanel, EditSession, DefaultsSource]:
    image, mask = square_scene(96, 64)
    session = EditSession.open(image)
    session.state.masks[MaskName.OBJECT] = mask
    session.state.box = MoveBox(dx=8)
    panel = EditPanel()
    panel.set_session(session)
    source = DefaultsSource(panel, ask=ask)
    source.changed.connect(panel.set_defaults)
    return panel, session, source


def type_into(field, text: str) -> None:
    field.setText(text)
    field.editingFinished.emit()


def test_server_mode_shows_the_servers_defaults_not_the_local_models(qtbot):
    asked = []
    panel, _, source = panel_on_a_scene(lambda address: asked.append(address) or REMOTE_INFO)
    source.follow(LOCAL, SERVER)
    assert panel.guidance.placeholderText() in (UNKNOWN_DEFAULT, "3.25")  # never SD's 0.5
    qtbot.waitUntil(lambda: panel.guidance.placeholderText() == "3.25")
    assert asked == [SERVER]
    assert panel.eta_in.placeholderText() == "0.15"
    assert panel.resolution.maximum() == 512
    source.follow(LOCAL, None)  # back to this computer: the local model's
    assert (panel.guidance.placeholderText(), panel.eta_in.placeholderText()) == ("0.5", "0.4")


def test_a_server_that_does_not_answer_leaves_the_defaults_unknown(qtbot):
    def refuse(address):
        raise OSError("connection refused")

    panel, _, source = panel_on_a_scene(refuse)
    source.follow(LOCAL, SERVER)
    qtbot.wait(50)
    assert panel.guidance.placeholderText() == UNKNOWN_DEFAULT


def test_a_typed_number_equal_to_the_default_is_sent(qtbot):
    panel, session, source = panel_on_a_scene(lambda address: REMOTE_INFO)
    source.follow(LOCAL, SERVER)
    qtbot.waitUntil(lambda: panel.guidance.placeholderText() == "3.25")
    panel.advanced.setChecked(True)
    type_into(panel.guidance, "3.25")  # the server's default, typed
    type_into(panel.eta_in, "0.4")  # the local model's default, typed
    assert build_request(session.state).overrides == {"guidance_strength": 3.25, "eta_in": 0.4}
    assert panel.guidance.text() == "3.25"  # still shown as typed
    type_into(panel.guidance, "")
    assert build_request(session.state).overrides == {"eta_in": 0.4}


def test_the_edit_button_sends_the_number_still_being_typed(qtbot):
    panel, session, _ = panel_on_a_scene(lambda address: REMOTE_INFO)
    panel.advanced.setChecked(True)
    panel.ip_scale.setText("0.3")  # no Return, no focus change: the button takes no focus
    with qtbot.waitSignal(panel.edit_requested):
        panel.edit_button.click()
    assert session.state.options.ip_scale == 0.3


def test_a_late_answer_for_a_server_no_longer_chosen_is_dropped(qtbot):
    release = threading.Event()

    def slow(address):
        release.wait(5)
        return REMOTE_INFO

    panel, _, source = panel_on_a_scene(slow)
    source.follow(LOCAL, SERVER)
    source.follow(LOCAL, None)  # the preferences went back to this computer meanwhile
    with qtbot.waitSignal(source._answered, timeout=10_000):  # the late answer, delivered
        release.set()
    assert panel.guidance.placeholderText() == "0.5"
