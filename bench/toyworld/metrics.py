"""Edit-quality metrics against an exact ground-truth render (issues 6 and 12).

Objects are found in an edited image by colour: toy objects are flat colours, so a pixel
within `SEGMENT_DELTA_E` of the object's colour, and nearer to it than to what the truth
shows there without the object, is the object (`object_pixels`). An object left behind by a
failed move therefore lowers the IoU, as it should, while a pale background that a VAE
lightens by a few ΔE does not turn into a white object (white is ΔE 20.1 from pink and
mint). The IoU is read only where the colour test can tell (`scored_region`): off the
object's anti-aliased outline, and away from true background pixels and other objects whose
colour is within the threshold of the object's (white on beige is ΔE 15.7). Scored so, the
exact truth itself gets an IoU of 1.
"""

from __future__ import annotations

import math

import numpy as np

SEGMENT_DELTA_E = 20.0  # CIEDE2000 distance within which a pixel has the object's colour
SHRINK = 1  # pixels eroded off a mask before reading its colour: edges are mixed
BACKGROUND_MARGIN = 2  # pixels around old and new objects left out of the "untouched" area
PSNR_CAP = 60.0  # dB reported for identical areas (MSE 0)
EDGE_BAND = 1  # pixels each side of an object's true outline that the IoU leaves out
TRACK_PATCH = 4  # half-side of the square patch that handle tracking matches (9 x 9)
BOOTSTRAP_DRAWS = 2000  # resamples of the paired bootstrap interval


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """[..., 3] sRGB in 0..255 -> CIE L*a*b* (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    matrix = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal's formulation), broadcasting."""
    lab1, lab2 = np.asarray(lab1, dtype=np.float64), np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dlp, dcp = l2 - l1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dhp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    lbp, cbp = (l1 + l2) / 2, (c1p + c2p) / 2
    hsum = h1p + h2p
    hbp = np.where(
        np.abs(h1p - h2p) <= 180, hsum / 2, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2)
    )
    hbp = np.where(c1p * c2p == 0, hsum, hbp)
    t = (
        1
        - 0.17 * np.cos(np.radians(hbp - 30))
        + 0.24 * np.cos(np.radians(2 * hbp))
        + 0.32 * np.cos(np.radians(3 * hbp + 6))
        - 0.20 * np.cos(np.radians(4 * hbp - 63))
    )
    d_theta = 30 * np.exp(-(((hbp - 275) / 25) ** 2))
    rc = 2 * np.sqrt(cbp**7 / (cbp**7 + 25.0**7))
    sl = 1 + 0.015 * (lbp - 50) ** 2 / np.sqrt(20 + (lbp - 50) ** 2)
    sc = 1 + 0.045 * cbp
    sh = 1 + 0.015 * cbp * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    return np.sqrt(
        (dlp / sl) ** 2 + (dcp / sc) ** 2 + (dhp / sh) ** 2 + rt * (dcp / sc) * (dhp / sh)
    )


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def centroid(mask: np.ndarray) -> tuple[float, float] | None:
    """(x, y) of the mask's pixel centres, None for an empty mask."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    return float(cols.mean() + 0.5), float(rows.mean() + 0.5)


def centroid_error(found: np.ndarray, expected: np.ndarray) -> float:
    """Pixels between the centroids; the image's diagonal when the object vanished."""
    a, b = centroid(found), centroid(expected)
    if a is None or b is None:
        return float(math.hypot(*found.shape))
    return float(math.hypot(a[0] - b[0], a[1] - b[1]))


def psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float:
    """PSNR (dB, 8-bit) of two RGB images over a region (all pixels by default); NaN for an
    empty region, PSNR_CAP for identical pixels."""
    region = np.ones(a.shape[:2], dtype=bool) if region is None else region
    if not region.any():
        return float("nan")
    diff = a[region].astype(np.float64) - b[region].astype(np.float64)
    mse = float(np.mean(diff**2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10 * math.log10(255.0**2 / mse))


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Square dilation, cropped at the border."""
    out = mask.copy()
    for _ in range(pixels):  # rows, then columns: a 3 x 3 square per pass
        rows = out.copy()
        rows[1:] |= out[:-1]
        rows[:-1] |= out[1:]
        out = rows.copy()
        out[:, 1:] |= rows[:, :-1]
        out[:, :-1] |= rows[:, 1:]
    return out


def erode(mask: np.ndarray, pixels: int) -> np.ndarray:
    return ~dilate(~mask, pixels)


def colour_segment(
    rgb: np.ndarray, colour: tuple[int, int, int], exclude: np.ndarray | None = None
) -> np.ndarray:
    """Pixels of `colour` (within SEGMENT_DELTA_E), minus `exclude`."""
    found = delta_e2000(srgb_to_lab(rgb), srgb_to_lab(np.array(colour))) < SEGMENT_DELTA_E
    return found & ~exclude if exclude is not None else found


Colours = tuple[tuple[int, int, int], ...]  # what an object shows: its colour (and shade)


def nearest_distance(rgb: np.ndarray, colours: Colours) -> np.ndarray:
    """Per pixel, the CIEDE2000 distance to the nearest of `colours`."""
    lab = srgb_to_lab(rgb)
    return np.min([delta_e2000(lab, srgb_to_lab(np.array(c))) for c in colours], axis=0)


def object_pixels(rgb: np.ndarray, colours: Colours, without: np.ndarray) -> np.ndarray:
    """Pixels within SEGMENT_DELTA_E of one of the object's `colours` and nearer to it than
    to `without`, the image the truth would be without the object: a fixed threshold alone
    takes a background just past it for the object as soon as the background drifts its
    way."""
    to_object = nearest_distance(rgb, colours)
    to_without = delta_e2000(srgb_to_lab(rgb), srgb_to_lab(without))
    return (to_object < SEGMENT_DELTA_E) & (to_object < to_without)


def colour_error(rgb: np.ndarray, mask: np.ndarray, truth: np.ndarray) -> float:
    """CIEDE2000 between the mean Lab colours of `rgb` and of the `truth` render inside the
    (eroded) mask: the object's colour, or the mix of its stripes."""
    inner = erode(mask, SHRINK)
    inner = inner if inner.any() else mask
    if not inner.any():
        return float("nan")
    mean = srgb_to_lab(rgb[inner]).mean(axis=0)
    return float(delta_e2000(mean, srgb_to_lab(truth[inner]).mean(axis=0)))


def scored_region(
    expected: np.ndarray, background: np.ndarray, colours: Colours, lookalikes: np.ndarray
) -> np.ndarray:
    """Where the colour test can tell the object from the rest: not within EDGE_BAND of its
    true outline, not where the true background (the scene without the object) already has
    one of the object's colours, and not on `lookalikes` (other objects of a similar
    colour)."""
    band = dilate(expected, EDGE_BAND) & ~erode(expected, EDGE_BAND)
    alike = nearest_distance(background, colours) < SEGMENT_DELTA_E
    return ~band & ~alike & ~lookalikes


def region_iou(found: np.ndarray, expected: np.ndarray, region: np.ndarray) -> float:
    return iou(found & region, expected & region)


def track(
    source: np.ndarray,
    result: np.ndarray,
    handle: tuple[int, int],
    target: tuple[int, int],
    search: int,
) -> float:
    """Pixels between a handle's target and where the handle's content landed. Both are the
    object's masks (toy objects are flat colours: their outline is the content that shows
    where they are): the patch of `source` around the handle is looked for in `result`
    within `search` pixels of the target, by the fewest differing pixels, ties to the
    nearest position."""
    r = TRACK_PATCH
    pad = r + search
    src, out = np.pad(source, pad), np.pad(result, pad)
    hx, hy = handle[0] + pad, handle[1] + pad
    patch = src[hy - r : hy + r + 1, hx - r : hx + r + 1]
    best: tuple[int, float] = (patch.size + 1, math.inf)
    tx, ty = target[0] + pad, target[1] + pad
    for dy in range(-search, search + 1):
        for dx in range(-search, search + 1):
            y, x = ty + dy, tx + dx
            differing = int((out[y - r : y + r + 1, x - r : x + r + 1] != patch).sum())
            best = min(best, (differing, math.hypot(dx, dy)))
    return best[1]


def paired_interval(
    differences: list[float], level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of per-scene differences and its percentile bootstrap interval; NaNs left out."""
    values = np.asarray([d for d in differences if not math.isnan(d)], dtype=np.float64)
    if values.size == 0:
        return (float("nan"),) * 3
    rng = np.random.default_rng(seed)
    means = values[rng.integers(values.size, size=(BOOTSTRAP_DRAWS, values.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)
