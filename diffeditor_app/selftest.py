"""`diffeditor --self-test`: a tiny model, a 3-step move edit offscreen through the same
worker the GUI uses, one line of output and exit code 0 (1 with the reason on failure).

The bundle's proof that it works: it needs torch, diffusers, transformers, Qt and the worker
thread, but no weights and no network.
"""

from __future__ import annotations

import os
import tempfile
import time

TIMEOUT_MS = 120_000  # a 3-step tiny edit takes seconds; this only catches a hang


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
        f"self-test ok: 3-step move edit on a tiny model in {seconds:.1f} s, "
        f"output {width}x{height}"
    )
    return 0


def _edit() -> dict[str, object]:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from diffeditor_app.engine import ModelSpec, MoveEdit
    from diffeditor_app.engine.testing import square_scene, write_tiny_model
    from diffeditor_app.runtime.worker import WorkerClient

    app = QCoreApplication.instance() or QCoreApplication([])  # noqa: F841 (kept alive)
    outcome: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="diffeditor-selftest-") as folder:
        model = write_tiny_model(folder)
        image, mask = square_scene()
        request = MoveEdit(image=image, mask=mask, offset=(8, 0), steps=3)
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
            client.submit(request, ModelSpec(str(model), device="cpu"))
            loop.exec()
            timer.stop()
        finally:
            client.shutdown()
    return outcome
