"""Face fixtures: the public-domain test portrait (README.md beside it) and its landmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diffeditor_app.engine.imaging.images import SourceImage, load_image

PORTRAIT = Path(__file__).with_name("portrait.png")


@pytest.fixture(scope="session")
def portrait() -> SourceImage:
    return load_image(PORTRAIT)


@pytest.fixture(scope="session")
def portrait_points(portrait) -> np.ndarray:
    """The portrait's 68 points (the face extra is part of the developer install)."""
    from diffeditor_app.engine.face.landmarks import detect_faces

    faces = detect_faces(portrait)
    assert len(faces) == 1
    return faces[0].points
