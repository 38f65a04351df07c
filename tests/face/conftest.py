"""Face fixtures: the public-domain test portrait (README.md beside it) and its landmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diffeditor_app.engine.face.landmarks import Face
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


def face_at(cx: float, cy: float, scale: float = 1.0, turn: float = 0.0) -> Face:
    """A plausible 68-point face (the iBUG 300-W parts in their places) around (cx, cy), its
    eyes 24 px apart at scale 1, turned by `turn` radians."""
    parts = []
    parts += [(-20 + 40 * i / 16, 4 + 18 * np.sin(np.pi * i / 16)) for i in range(17)]  # jaw
    parts += [(-18 + 7 * i, -14 - 2 * np.sin(np.pi * i / 4)) for i in range(5)]  # brows
    parts += [(4 + 7 * i, -14 - 2 * np.sin(np.pi * i / 4)) for i in range(5)]
    parts += [(0, -8 + 4 * i) for i in range(4)]  # the nose bridge
    parts += [(-4 + 2 * i, 8 + (1 if i in (0, 4) else 2)) for i in range(5)]  # its base
    for centre in (-12, 12):  # eyes: six points around each centre
        parts += [(centre + 5 * np.cos(a), -4 + 2.5 * np.sin(a)) for a in np.arange(6) * np.pi / 3]
    parts += [(9 * np.cos(a), 18 + 4 * np.sin(a)) for a in np.arange(12) * np.pi / 6]  # lips
    parts += [(6 * np.cos(a), 18 + 2 * np.sin(a)) for a in np.arange(8) * np.pi / 4]
    local = np.array(parts, dtype=np.float64) * scale
    c, s = np.cos(turn), np.sin(turn)
    points = local @ np.array([[c, s], [-s, c]]) + (cx, cy)
    x0, y0 = points.min(axis=0) - 4
    x1, y1 = points.max(axis=0) + 4
    return Face(box=(float(x0), float(y0), float(x1), float(y1)), points=points)
