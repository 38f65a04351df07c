"""The defaults of the model that will run the edit, for the Advanced fields.

The engine resolves a task's settings from the loaded model's profile: on this computer the
local model's, in server mode the server's. The panel must show those same numbers, so it
reads them here: `ModelDefaults.of_profile` for the local model, `ModelDefaults.of_info` for
a server's /v1/info answer, and `DefaultsSource` follows the preferences, asking a server
off the GUI thread (an answer for an address no longer chosen is dropped).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from diffeditor_app.engine.errors import EngineError, InvalidInput
from diffeditor_app.engine.models.model import ModelProfile
from diffeditor_app.engine.tasks.registry import Task
from diffeditor_app.runtime.settings import SettingsStore
from diffeditor_app.server.api import read_task_defaults, task_defaults
from diffeditor_app.server.client import ServerAddress, ServerClient

log = logging.getLogger("diffeditor_app.runtime")


@dataclass(frozen=True, eq=False)
class ModelDefaults:
    """Per task, the overridable settings and their defaults; and the working resolutions."""

    tasks: Mapping[Task, Mapping[str, float]]
    resolution_range: tuple[int, int]
    where: str  # whose defaults, for tooltips: "this computer" or the server's URL

    def value(self, task: Task, name: str) -> float:
        return self.tasks[task][name]

    @classmethod
    def of_profile(cls, profile: ModelProfile, where: str = "this computer") -> ModelDefaults:
        tasks = {Task(task): values for task, values in task_defaults(profile).items()}
        return cls(tasks, profile.resolution_range, where)

    @classmethod
    def of_info(cls, info: dict[str, Any], where: str) -> ModelDefaults:
        """From a server's /v1/info answer (BadRequest when it lacks the defaults)."""
        low, high = info.get("resolution_range", ModelProfile.resolution_range)
        return cls(read_task_defaults(info), (int(low), int(high)), where)


def server_info(address: ServerAddress) -> dict[str, Any]:
    """One /v1/info call (blocking: call it off the GUI thread)."""
    client = ServerClient(address)
    try:
        return client.info()
    finally:
        client.close()


class DefaultsSource(QObject):
    """Says which defaults the panel shows: at once for the local model; for a server, None
    (not known yet) at once and the server's when its answer arrives."""

    changed = Signal(object)  # ModelDefaults, or None while a server's are not known
    _answered = Signal(object, object)  # the address asked, ModelDefaults | None

    def __init__(
        self,
        parent: QObject | None = None,
        ask: Callable[[ServerAddress], dict[str, Any]] = server_info,
    ) -> None:
        super().__init__(parent)
        self._ask = ask
        self._asking: ServerAddress | None = None  # the address whose answer counts
        self._answered.connect(self._on_answer)  # queued: emitted from the asking thread

    def follow_settings(self, settings: SettingsStore, profile: ModelProfile) -> None:
        """The defaults where the preferences run edits; `profile` is the local model's."""
        try:
            server = settings.server()
        except InvalidInput:  # the server is chosen without its URL or token: none to ask
            self._asking = None
            self.changed.emit(None)
            return
        self.follow(profile, server)

    def follow(self, profile: ModelProfile, server: ServerAddress | None) -> None:
        """The local `profile`'s defaults, or the server's when `server` is given."""
        self._asking = server
        if server is None:
            self.changed.emit(ModelDefaults.of_profile(profile))
            return
        self.changed.emit(None)
        threading.Thread(
            target=self._fetch, args=(server,), name="diffeditor-server-info", daemon=True
        ).start()

    def _fetch(self, server: ServerAddress) -> None:
        try:
            defaults = ModelDefaults.of_info(self._ask(server), server.url)
        except (EngineError, OSError, ValueError, TypeError) as error:
            log.info("The server %s did not say its defaults: %s", server.url, error)
            defaults = None
        self._answered.emit(server, defaults)

    @Slot(object, object)
    def _on_answer(self, server: ServerAddress, defaults: ModelDefaults | None) -> None:
        if server == self._asking:
            self.changed.emit(defaults)
