"""A reference face's 68 points brought onto the source face: a similarity transform (scale,
rotation, shift) fitted on the points that expressions barely move (eye corners, nose), so
the reference's pose and size do not count, only its shape and expression. The chosen groups
take the aligned reference's points as targets; the others stay where they are.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from diffeditor_app.engine.errors import InvalidInput

GROUPS: dict[str, tuple[int, ...]] = {  # the iBUG 300-W markup's parts
    "jaw": tuple(range(0, 17)),
    "brows": tuple(range(17, 27)),
    "nose": tuple(range(27, 36)),
    "eyes": tuple(range(36, 48)),
    "mouth": tuple(range(48, 68)),
}
# eye corners (36, 39, 42, 45) and the nose bridge and base: what a smile or a frown moves least
STABLE_POINTS = (36, 39, 42, 45, 27, 28, 29, 30, 31, 33, 35)
LEFT_EYE = tuple(range(36, 42))  # on the image's left (the subject's right eye)
RIGHT_EYE = tuple(range(42, 48))


def parse_groups(names: Iterable[str]) -> tuple[str, ...]:
    """Group names as a user typed them, checked; an empty choice is an error."""
    chosen = tuple(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
    unknown = [name for name in chosen if name not in GROUPS]
    if unknown:
        raise InvalidInput(
            f"Unknown face group(s): {', '.join(unknown)}; choose from {', '.join(GROUPS)}."
        )
    if not chosen:
        raise InvalidInput(f"Choose at least one face group: {', '.join(GROUPS)}.")
    return chosen


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2 x 3 matrix [s R | t] that best maps `source` points onto `target` (least squares,
    no reflection): Umeyama's closed form."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    covariance = b.T @ a / len(source)
    u, sigma, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rotation = u @ sign @ vt
    variance = (a**2).sum() / len(source)
    scale = float(np.trace(np.diag(sigma) @ sign) / variance) if variance > 0 else 1.0
    shift = mu_t - scale * rotation @ mu_s
    return np.hstack([scale * rotation, shift[:, None]])


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def aligned_reference(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The reference's 68 points moved onto the source face by the stable points' fit."""
    stable = list(STABLE_POINTS)
    matrix = similarity_transform(reference[stable], source[stable])
    return apply_transform(matrix, reference)


def reference_targets(
    source: np.ndarray, reference: np.ndarray, groups: Iterable[str] = tuple(GROUPS)
) -> np.ndarray:
    """Targets for the source's 68 points: the aligned reference's in the chosen groups, the
    source's own elsewhere."""
    aligned = aligned_reference(source, reference)
    targets = source.astype(np.float64).copy()
    for name in parse_groups(groups):
        index = list(GROUPS[name])
        targets[index] = aligned[index]
    return targets
