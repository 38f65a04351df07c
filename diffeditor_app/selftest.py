"""`diffeditor --self-test`: a 3-step move edit of the toy sample scene on the shipped toy
model, offscreen through the same worker the GUI uses; one line of output and exit code 0
(1 with the reason on failure).

The bundle's proof that it works: it needs torch, diffusers, transformers, Qt, the worker
thread and the bundled toy weights and samples, but no network.
"""

from __future__ import annotations

import os
import time

TIMEOUT_MS = 120_000  # a 3-step toy edit takes seconds; this only catches a hang


def run() -> int:
    """Run the self-test; print one line; return 0 when it passed, 1 otherwise."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for name, value in (
        ("TRANSFORMERS_VERBOSITY", "error"),
        ("DIFFUSERS_VERBOSITY", "error"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
    ):
        os.environ.setdefault(name, value)
    start = time.perf_counter()
    try:
        outcome = _edit()
    except Exception as error:  # the reason is the point of a self-test
        print(f"self-test failed: {type(error).__name__}: {error}")
        return 1
    if "result" not in outcome:
        print(f"self-test failed: {outcome.get('error', 'no result')}")
        return 1
    width, height = outcome["result"].image.size
    seconds = time.perf_counter() - start
    print(
        f"self-test ok: 3-step move edit on the toy model in {seconds:.1f} s, "
        f"output {width}x{height}"
    )
    return 0


def _edit() -> dict[str, object]:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from diffeditor_app.engine import ModelSpec
    from diffeditor_app.engine.imaging.images import load_image, load_mask
    from diffeditor_app.engine.tasks.move import MoveEdit
    from diffeditor_app.runtime.worker import WorkerClient
    from diffeditor_app.ui.app import DEMO_IMAGE, DEMO_MASK, DEMO_MODEL, DEMO_MOVE

    app = QCoreApplication.instance() or QCoreApplication([])  # noqa: F841 (kept alive)
    outcome: dict[str, object] = {}
    image = load_image(DEMO_IMAGE)
    mask = load_mask(DEMO_MASK, image.size)
    prompt = DEMO_IMAGE.with_suffix(".txt").read_text().strip()
    request = MoveEdit(image=image, mask=mask, offset=DEMO_MOVE, prompt=prompt, steps=3)
    client = WorkerClient()
    try:
        loop = QEventLoop()

        def done(**values: object) -> None:
            outcome.update(values)
            loop.quit()

        client.finished.connect(lambda job, result: done(result=result))
        client.failed.connect(lambda job, message: done(error=message))
        client.cancelled.connect(lambda job: done(error="the edit was cancelled"))
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: done(error=f"no result in {TIMEOUT_MS // 1000} s"))
        timer.start(TIMEOUT_MS)
        client.submit(request, ModelSpec(DEMO_MODEL, device="cpu"))
        loop.exec()
        timer.stop()
    finally:
        client.shutdown()
    return outcome
