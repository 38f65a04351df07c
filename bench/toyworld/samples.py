"""Write the toy sample images the demo and the README use (`resources/samples/toy_*.png`).

    python bench/toyworld/samples.py

Two hand-set scenes, so the demo always opens on the same picture: the image (a red circle
and a yellow square on a sky-to-mint gradient) with the circle's mask and a drag region
around the square and where it is dragged, and a reference (a purple triangle on plain
beige) with its mask; the captions of the image, the reference and the appearance and paste
results.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics import dilate
from scenes import Background, Scene, SceneObject

from diffeditor_app.ui.app import DEMO_PASTE_AT, DEMO_PASTE_SCALE

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
IMAGE = Scene(
    Background("gradient", "sky", "mint", vertical=False, stripe=4),
    (
        SceneObject("circle", "red", 18.0, 22.0, 9.0),
        SceneObject("square", "yellow", 44.0, 42.0, 9.0),
    ),
)
REFERENCE = Scene(
    Background("plain", "beige", "grey", vertical=False, stripe=4),
    (SceneObject("triangle", "purple", 32.0, 32.0, 11.0),),
)
PASTED = replace(  # the reference triangle where the demo's paste layer puts it
    REFERENCE.objects[0],
    x=IMAGE.side * DEMO_PASTE_AT[0],
    y=IMAGE.side * DEMO_PASTE_AT[1],
    radius=REFERENCE.objects[0].radius * DEMO_PASTE_SCALE,
)
MASK_GROW = 1  # painted masks reach a pixel past the anti-aliased edge
DRAG = (0, 10)  # the demo drags the square's centre this far (app.py's handle and target)
REGION_GROW = 3  # the drag region leaves room around the square, before and after


def save_mask(mask: np.ndarray, name: str) -> None:
    Image.fromarray((mask * 255).astype(np.uint8)).save(SAMPLES / name)


def main() -> int:
    image, reference = IMAGE.render(), REFERENCE.render()
    Image.fromarray(image.rgb).save(SAMPLES / "toy_scene.png")
    save_mask(dilate(image.masks[0], MASK_GROW), "toy_circle_mask.png")
    dragged = IMAGE.moved(1, *DRAG).render().masks[1]
    save_mask(dilate(image.masks[1] | dragged, REGION_GROW), "toy_square_region.png")
    Image.fromarray(reference.rgb).save(SAMPLES / "toy_reference.png")
    save_mask(dilate(reference.masks[0], MASK_GROW), "toy_reference_mask.png")
    (SAMPLES / "toy_scene.txt").write_text(IMAGE.caption + "\n")
    (SAMPLES / "toy_reference.txt").write_text(REFERENCE.caption + "\n")
    # what the appearance and paste results show: the prompts a user types for them
    recoloured = IMAGE.recoloured(0, REFERENCE.objects[0].colour, None)
    (SAMPLES / "toy_appearance.txt").write_text(recoloured.caption + "\n")
    (SAMPLES / "toy_paste.txt").write_text(IMAGE.added(PASTED).caption + "\n")
    print(f"wrote the toy samples to {SAMPLES}: '{IMAGE.caption}'")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
