"""The face task's points and targets, from the state: the chosen face's 68 landmarks and
where each should go. A target is its point plus what each source adds (the reference
face's shape, the sliders, the user's drags); the points of a group that is off add
nothing, so they hold their place and anchor the face there. Qt-free, like the state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffeditor_app.document.state import FOUND_KEPT, FaceSetup, FoundFaces, SessionState
from diffeditor_app.engine.errors import InvalidInput
from diffeditor_app.engine.face.align import GROUPS, reference_targets
from diffeditor_app.engine.face.landmarks import POINTS, Face
from diffeditor_app.engine.imaging.images import SourceImage

FINDING = "Finding the faces on the image…"
NO_FACE = "No face found on the image: the face task needs a face seen from the front."


def found_on(state: SessionState, image: SourceImage | None) -> FoundFaces | None:
    """What the detector found on `image` (the very object), or None when not looked yet."""
    return next((found for found in state.found if found.image is image), None)


def remember(state: SessionState, found: FoundFaces) -> bool:
    """Keep a detection, newest first; False when the image has one already (the older
    answer stands: the faces of an image do not change)."""
    if found_on(state, found.image) is not None:
        return False
    state.found = [found, *state.found][:FOUND_KEPT]
    return True


def chosen_face(state: SessionState) -> Face | None:
    found = found_on(state, state.current)
    if found is None or not 0 <= state.face_setup.chosen < len(found.faces):
        return None
    return found.faces[state.face_setup.chosen]


def reference_face(state: SessionState) -> Face | None:
    """The reference image's largest face, when it has one."""
    found = found_on(state, state.reference)
    return found.faces[0] if found is not None and found.faces else None


def problem(state: SessionState) -> str:
    """Why the face task cannot edit yet, in one sentence; "" when it can."""
    found = found_on(state, state.current)
    if found is None:
        return FINDING
    if found.problem:
        return found.problem
    if not found.faces:
        return NO_FACE
    return "" if chosen_face(state) is not None else "Choose one of the faces."


def held(setup: FaceSetup) -> np.ndarray:
    """[68] bool: the points whose group is off."""
    moving = np.zeros(POINTS, dtype=bool)
    for name in setup.groups:
        moving[list(GROUPS[name])] = True
    return ~moving


def targets_of(state: SessionState, face: Face, setup: FaceSetup | None = None) -> np.ndarray:
    """[68, 2] targets of `face`'s points under `setup` (the state's by default)."""
    setup = setup or state.face_setup
    points = face.points
    shift = np.zeros_like(points)
    reference = reference_face(state)
    if setup.reference and reference is not None:
        shift += reference_targets(points, reference.points) - points
    if setup.sliders.any():
        shift += setup.sliders.targets(points) - points
    for index, dx, dy in setup.dragged:
        shift[index] += (dx, dy)
    shift[held(setup)] = 0.0
    return points + shift


@dataclass(frozen=True, eq=False)
class FacePoints:
    """The chosen face's points and their targets, [68, 2] each, in image pixels."""

    face: Face
    points: np.ndarray
    targets: np.ndarray
    held: np.ndarray  # [68] bool: points of a group that is off

    @property
    def moves(self) -> bool:
        return bool(np.any(self.points != self.targets))


def face_points(state: SessionState) -> FacePoints | None:
    face = chosen_face(state)
    if face is None:
        return None
    return FacePoints(face, face.points, targets_of(state, face), held(state.face_setup))


def editable_points(state: SessionState) -> FacePoints:
    """The face points for an edit, or the sentence that says why there are none."""
    points = face_points(state)
    if points is None:
        raise InvalidInput(problem(state))
    if not points.moves:
        raise InvalidInput(
            "No face point moves: drag a point, move a slider or transfer the reference face."
        )
    return points
