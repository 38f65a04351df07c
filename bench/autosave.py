"""Autosave benchmark: how long the GUI thread is held by one autosave, and how long the
background write takes, for images of several sizes with every mask painted.

    python bench/autosave.py [--sides 1024 2048 4096] [--repeats 5]

Each autosave follows one brush stroke (a 5 % wide stamp across a tenth of the image, as
`commands.stroke` records it). The GUI thread's part is `Autosaver.save_now`: bringing the
autosave's mask copies up to date where the stroke changed them, copying the lists, and
handing the copy to the writer thread (the budget is 20 ms); the write itself (PNG
encoding, zip, fsync, os.replace) runs in the background. Writes bench/results/autosave.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6.QtCore import QCoreApplication

from diffeditor_app.document import commands
from diffeditor_app.document.session import EditSession
from diffeditor_app.document.state import MaskName
from diffeditor_app.engine.imaging.images import SourceImage
from diffeditor_app.ui.file_controller import Autosaver

RESULTS = Path(__file__).resolve().parent / "results"
GUI_BUDGET_MS = 20.0


def painted_session(side: int) -> EditSession:
    rng = np.random.default_rng(0)
    image = SourceImage(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    session = EditSession.open(image)
    for name in (MaskName.OBJECT, MaskName.REGION, MaskName.FILL):
        session.state.masks[name][side // 4 : side // 2, side // 4 : side // 2] = True
    return session


def paint_stroke(session: EditSession, side: int, number: int) -> None:
    width, length = max(side // 20, 1), side // 10
    x0, y0 = (number * 97) % (side - length), (number * 61) % (side - width)
    bbox = (x0, y0, x0 + length, y0 + width)
    commands.stroke(session, MaskName.OBJECT, bbox, np.ones((width, length), bool), False)


def measure(side: int, repeats: int, folder: Path) -> tuple[float, float, float]:
    """(median GUI ms, worst GUI ms, median background s) over `repeats` autosaves."""
    saver = Autosaver(folder / f"autosave-{side}.diffedit", delay_ms=0)
    session = painted_session(side)
    saver.watch(session, None)
    gui, background = [], []
    for number in range(repeats):
        paint_stroke(session, side, number)
        started = time.perf_counter()
        saver.save_now()
        gui.append(saver.gui_ms)
        saver.wait()
        background.append(time.perf_counter() - started)
    saver.shutdown()
    return statistics.median(gui), max(gui), statistics.median(background)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    QCoreApplication.instance() or QCoreApplication([])
    lines = [
        "| image | GUI thread, median ms | GUI thread, worst ms | background write, s |",
        "|---|---|---|---|",
    ]
    worst = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for side in args.sides:
            median_ms, worst_ms, write_s = measure(side, args.repeats, Path(scratch))
            worst = max(worst, worst_ms)
            lines.append(f"| {side} x {side} | {median_ms:.2f} | {worst_ms:.2f} | {write_s:.2f} |")
    verdict = "within" if worst <= GUI_BUDGET_MS else "OVER"
    lines.append(
        f"\nWorst GUI-thread time {worst:.2f} ms: {verdict} the {GUI_BUDGET_MS:g} ms budget."
    )
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "autosave.md").write_text(text + "\n")
    return 0 if worst <= GUI_BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
