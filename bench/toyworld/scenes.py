"""Synthetic shape scenes with exact ground truth for every edit (TOYWORLD.md).

A `Scene` is a small value: a background and up to three objects, each a shape, a named
colour, a centre and a size. `render()` draws it with anti-aliased edges and returns the exact
per-object masks; the scene's methods (`moved`, `scaled`, `recoloured`, `removed`, `added`)
return new scenes, so the ground truth of an edit is simply the render of the edited scene.

Scenes are drawn from a seeded stream per (split, index), so any scene can be rebuilt without
storing it, and the training and held-out splits never share a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

SIDE = 64  # scene side in pixels (docs/ENGINE-NOTES.md, Toy model)
SUPERSAMPLE = 4  # sub-samples per pixel side for the anti-aliased coverage
MASK_COVERAGE = 0.5  # a pixel belongs to an object's mask from this coverage on
MIN_RADIUS, MAX_RADIUS = 6.0, 13.0  # object size: half its extent, in pixels
GAP = 2.0  # pixels between the bounding circles of two objects
SMALL_BELOW, LARGE_FROM = 7.5, 11.5  # radii that make the caption say "small" / "large"
STRIPE_RANGE = (3, 7)  # stripe width in pixels, inclusive
STRIPE_CONTRAST = 0.78  # the darker stripes are the background colour times this
PATTERN_SHARE = 0.5  # share of striped objects in a patterned world (`random_scene`)
PATTERN_WIDTH = (3.0, 4.5)  # stripe width of a striped object, pixels (a latent cell is 4)
PATTERN_ANGLES = (0.0, 45.0, 90.0, 135.0)  # stripe directions, degrees
PATTERN_STREAM = 7  # the third word of the seed that draws patterns: the scenes stay as they are
SHADE_SHIFT = 0.4  # a striped object's second colour: this far towards black (or white if dark)
SHADE_DARK_BELOW = 110  # mean RGB under which a colour's shade goes towards white

OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 215),
    "yellow": (235, 205, 40),
    "purple": (135, 55, 175),
    "orange": (240, 130, 30),
    "white": (248, 248, 248),
    "black": (25, 25, 25),
}
BACKGROUND_COLOURS: dict[str, tuple[int, int, int]] = {
    "beige": (225, 210, 175),
    "grey": (150, 150, 150),
    "pink": (240, 190, 200),
    "mint": (180, 230, 200),
    "sky": (170, 205, 240),
    "brown": (125, 90, 60),
}
SHAPES = ("circle", "square", "triangle", "diamond", "ring", "cross")
BACKGROUND_KINDS = ("plain", "gradient", "striped")
SPLITS = {"train": 0, "test": 1}  # the first word of each scene's seed


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether the point (u, v), in units of the object's radius around its centre (v down),
    lies inside the shape. Every shape spans about [-1, 1] on both axes."""
    if shape == "circle":
        return u * u + v * v <= 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.85
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.1
    if shape == "triangle":  # apex up, base at v = 0.8
        return (v <= 0.8) & (np.abs(u) <= (v + 1.0) / 1.8)
    if shape == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.3)
    if shape == "cross":
        au, av = np.abs(u), np.abs(v)
        return ((au <= 0.33) & (av <= 1.0)) | ((av <= 0.33) & (au <= 1.0))
    raise ValueError(f"unknown shape {shape!r}")


def shade(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """The second colour of a striped object: darker, or lighter for a dark colour."""
    rgb = np.array(colour, dtype=np.float64)
    target = 255.0 if rgb.mean() < SHADE_DARK_BELOW else 0.0
    return tuple(int(c) for c in np.rint(rgb + (target - rgb) * SHADE_SHIFT))


@dataclass(frozen=True)
class Stripes:
    """Stripes of an object's colour and its shade, anchored at the object's centre: they
    move with it, and scale with it."""

    width: float  # pixels
    angle: float  # degrees of the stripes' normal from the x axis
    phase: float  # 0..1: where the centre falls in a period of two stripes

    def dark(self, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """Whether points (dx, dy) pixels from the centre lie on a shade stripe."""
        theta = np.radians(self.angle)
        along = (dx * np.cos(theta) + dy * np.sin(theta)) / self.width + 2 * self.phase
        return np.floor(along) % 2 == 1


@dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str  # a key of OBJECT_COLOURS
    x: float  # centre, pixels from the left edge
    y: float  # centre, pixels from the top edge
    radius: float  # half the object's extent, pixels
    pattern: Stripes | None = None  # None: a flat colour

    def words(self) -> str:
        size = (
            "small " if self.radius < SMALL_BELOW else "large " if self.radius >= LARGE_FROM else ""
        )
        striped = "striped " if self.pattern is not None else ""
        return f"a {size}{striped}{self.colour} {self.shape}"

    def colours(self) -> tuple[tuple[int, int, int], ...]:
        """The colours the object shows: its own, and its shade when striped."""
        own = OBJECT_COLOURS[self.colour]
        return (own,) if self.pattern is None else (own, shade(own))


@dataclass(frozen=True)
class Background:
    kind: str  # plain | gradient | striped
    colour: str  # a key of BACKGROUND_COLOURS
    second: str  # gradient: the colour it fades to; unused otherwise
    vertical: bool  # gradient direction / stripe orientation
    stripe: int  # stripe width in pixels

    def words(self) -> str:
        if self.kind == "gradient":
            return f"a {self.colour} to {self.second} gradient background"
        return f"a {self.kind} {self.colour} background"

    def draw(self, side: int) -> np.ndarray:
        """[side, side, 3] float RGB in 0..255."""
        first = np.array(BACKGROUND_COLOURS[self.colour], dtype=np.float64)
        coords = np.arange(side, dtype=np.float64)
        along = coords[:, None] if self.vertical else coords[None, :]
        along = np.broadcast_to(along, (side, side))
        if self.kind == "gradient":
            second = np.array(BACKGROUND_COLOURS[self.second], dtype=np.float64)
            t = (along / (side - 1))[..., None]
            return first * (1 - t) + second * t
        if self.kind == "striped":
            dark = (along // self.stripe) % 2 == 1
            return np.where(dark[..., None], first * STRIPE_CONTRAST, first)
        return np.broadcast_to(first, (side, side, 3)).copy()


@dataclass(frozen=True)
class Render:
    rgb: np.ndarray  # [side, side, 3] uint8
    masks: list[np.ndarray]  # one [side, side] bool mask per object, in the scene's order
    coverage: list[np.ndarray]  # one [side, side] float coverage (0..1) per object


@dataclass(frozen=True)
class Scene:
    background: Background
    objects: tuple[SceneObject, ...]
    side: int = SIDE

    @property
    def caption(self) -> str:
        ordered = sorted(self.objects, key=lambda o: o.x)  # read left to right
        things = " and ".join(o.words() for o in ordered) if ordered else "nothing"
        return f"{things} on {self.background.words()}"

    def render(self) -> Render:
        """Objects are painted in order over the background, each with its coverage (and
        the part of it on shade stripes)."""
        rgb = self.background.draw(self.side)
        covers = []
        for obj in self.objects:
            cover, dark = coverage(obj, self.side)
            colours = [np.array(c, dtype=np.float64) for c in obj.colours()]
            paint = colours[0] * (cover - dark)[..., None] + colours[-1] * dark[..., None]
            rgb = rgb * (1 - cover[..., None]) + paint
            covers.append(cover)
        pixels = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
        return Render(pixels, [c >= MASK_COVERAGE for c in covers], covers)

    def _with(self, index: int, **changes: float | str | Stripes | None) -> Scene:
        objects = list(self.objects)
        objects[index] = replace(objects[index], **changes)
        return replace(self, objects=tuple(objects))

    def moved(self, index: int, dx: float, dy: float) -> Scene:
        obj = self.objects[index]
        return self._with(index, x=obj.x + dx, y=obj.y + dy)

    def scaled(self, index: int, factor: float) -> Scene:
        obj = self.objects[index]
        pattern = obj.pattern and replace(obj.pattern, width=obj.pattern.width * factor)
        return self._with(index, radius=obj.radius * factor, pattern=pattern)

    def recoloured(self, index: int, colour: str, pattern: Stripes | None = None) -> Scene:
        """The object with another colour (and pattern: an appearance is both)."""
        return self._with(index, colour=colour, pattern=pattern)

    def removed(self, index: int) -> Scene:
        return replace(self, objects=self.objects[:index] + self.objects[index + 1 :])

    def added(self, obj: SceneObject) -> Scene:
        return replace(self, objects=(*self.objects, obj))


def coverage(obj: SceneObject, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The fraction of each pixel the object covers, and the fraction it covers with shade
    stripes, from SUPERSAMPLE^2 samples per pixel."""
    n = SUPERSAMPLE
    offsets = (np.arange(n) + 0.5) / n
    coords = (np.arange(side)[:, None] + offsets[None, :]).ravel()  # [side * n]
    dx, dy = coords[None, :] - obj.x, coords[:, None] - obj.y
    inside = _inside(obj.shape, dx / obj.radius, dy / obj.radius)
    dark = inside & obj.pattern.dark(dx, dy) if obj.pattern is not None else np.zeros_like(inside)
    per_pixel = (side, n, side, n)
    return (
        inside.astype(np.float64).reshape(per_pixel).mean(axis=(1, 3)),
        dark.astype(np.float64).reshape(per_pixel).mean(axis=(1, 3)),
    )


def scene_rng(split: str, index: int) -> np.random.Generator:
    """The random stream of one scene: rebuildable from (split, index) alone."""
    return np.random.default_rng([SPLITS[split], index])


def random_object(
    rng: np.random.Generator, side: int, others: tuple[SceneObject, ...], tries: int = 50
) -> SceneObject | None:
    """An object that fits inside the frame and keeps GAP from `others`, or None."""
    for _ in range(tries):
        radius = float(rng.uniform(MIN_RADIUS, MAX_RADIUS))
        x, y = (float(c) for c in rng.uniform(radius + 1, side - radius - 1, size=2))
        if all(np.hypot(x - o.x, y - o.y) >= radius + o.radius + GAP for o in others):
            shape = SHAPES[rng.integers(len(SHAPES))]
            colour = list(OBJECT_COLOURS)[rng.integers(len(OBJECT_COLOURS))]
            return SceneObject(str(shape), colour, x, y, radius)
    return None


def random_background(rng: np.random.Generator) -> Background:
    names = list(BACKGROUND_COLOURS)
    first, second = rng.choice(len(names), size=2, replace=False)
    low, high = STRIPE_RANGE
    return Background(
        kind=BACKGROUND_KINDS[rng.integers(len(BACKGROUND_KINDS))],
        colour=names[first],
        second=names[second],
        vertical=bool(rng.integers(2)),
        stripe=int(rng.integers(low, high + 1)),
    )


def random_pattern(rng: np.random.Generator) -> Stripes | None:
    """Stripes for PATTERN_SHARE of the objects, else None."""
    if rng.uniform() >= PATTERN_SHARE:
        return None
    angle = PATTERN_ANGLES[rng.integers(len(PATTERN_ANGLES))]
    return Stripes(float(rng.uniform(*PATTERN_WIDTH)), float(angle), float(rng.uniform()))


def random_scene(
    split: str, index: int, side: int = SIDE, max_objects: int = 3, patterned: bool = False
) -> Scene:
    """Scene `index` of a split: 1 to `max_objects` non-overlapping objects. A patterned
    world stripes some of them, drawn from a stream of their own, so the scene is otherwise
    the same as in the flat world."""
    rng = scene_rng(split, index)
    background = random_background(rng)
    objects: tuple[SceneObject, ...] = ()
    for _ in range(int(rng.integers(1, max_objects + 1))):
        obj = random_object(rng, side, objects)
        if obj is not None:
            objects = (*objects, obj)
    if patterned:
        patterns = np.random.default_rng([SPLITS[split], index, PATTERN_STREAM])
        objects = tuple(replace(o, pattern=random_pattern(patterns)) for o in objects)
    return Scene(background, objects, side)


def vocabulary() -> list[str]:
    """Every word a caption can contain, so a word-level tokenizer covers them all."""
    words = {"a", "and", "on", "to", "background", "small", "large", "nothing"}
    words |= set(SHAPES) | set(OBJECT_COLOURS) | set(BACKGROUND_COLOURS)
    words |= set(BACKGROUND_KINDS)
    return sorted(words)
