"""GUI soak: an afternoon's work in miniature, in a child process with faulthandler.

More than 30 edits on the tiny model (two steps each) through the real window, worker
thread and canvas: between them it keeps, discards, undoes and redoes, switches tasks,
runs again with new seeds, cancels (during prepare and during sampling), and saves and
reopens the project. As each edit starts it drops a few widgets held only by reference
cycles, as any Qt code can: they must die in the GUI thread, never in the worker's.
A crash (a segfault in Qt, a worker-thread fault) kills the child only: the test fails
with the fault handler's traceback instead of killing the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EDITS = 32
CHILD_LIMIT_S = 900  # a bound for a hung child, not a speed requirement


def test_the_app_survives_an_afternoon_of_edits(tiny_model_dir, tmp_path):
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    child = subprocess.run(
        [sys.executable, "-X", "faulthandler", __file__, str(tiny_model_dir), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_LIMIT_S,
    )
    report = f"exit {child.returncode}\n{child.stdout[-3000:]}\n{child.stderr[-6000:]}"
    assert child.returncode == 0, report
    assert "Fatal Python error" not in child.stderr, report
    counts = dict(line.split("=") for line in child.stdout.split() if "=" in line)
    assert int(counts["finished"]) >= EDITS, report
    assert int(counts["cancelled"]) >= 2 and int(counts["reopened"]) >= 2, report
    assert int(counts["kept"]) >= 4 and int(counts["failed"]) == 0, report
    assert int(counts["garbage_widgets"]) > 0, report
    assert int(counts["garbage_widgets_in_worker"]) == 0, report


# -- the child process --------------------------------------------------------------------


def soak(model_dir: Path, scratch: Path) -> dict[str, int]:
    """Drive the window as a user would, through its buttons and actions."""
    import threading

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QLabel, QMessageBox

    from diffeditor_app.document import commands
    from diffeditor_app.document.state import MoveBox, PasteLayer
    from diffeditor_app.engine.models.model import ModelSpec
    from diffeditor_app.engine.requests import Point
    from diffeditor_app.engine.tasks.registry import Task
    from diffeditor_app.ui.app import create_window, prepare_demo

    problems: list[str] = []
    QMessageBox.warning = lambda parent, title, text, *a: problems.append(f"{title}: {text}")
    QMessageBox.question = lambda *a: QMessageBox.StandardButton.Discard
    spec = ModelSpec(str(model_dir), device="cpu")
    window = create_window(scratch / "settings.json", scratch / "data", spec)
    window.show()
    prepare_demo(window)
    worker, panel, bar = window.worker, window.edit_panel, window.candidates
    counts = dict(finished=0, cancelled=0, failed=0, kept=0, reopened=0)
    ended: list[str] = []
    worker.finished.connect(window.canvas.refresh)  # a repaint right after each edit

    def wait_for_end(limit_ms: int = 120_000) -> None:
        loop = QEventLoop()
        for signal in (worker.finished, worker.cancelled, worker.failed):
            signal.connect(loop.quit)
        QTimer.singleShot(limit_ms, loop.quit)
        if not ended:
            loop.exec()
        for signal in (worker.finished, worker.cancelled, worker.failed):
            signal.disconnect(loop.quit)
        if not ended:
            raise RuntimeError("an edit did not end")

    died_in: list[str] = []

    def drop_cyclic_widget(*_) -> None:
        """A widget held only by a reference cycle, dropped while the worker is busy in the
        UNet: any Qt code can leave such garbage, and it must die in the GUI thread."""
        label = QLabel("cyclic garbage")
        label.itself = label
        label.destroyed.connect(lambda *a: died_in.append(threading.current_thread().name))

    worker.preparing.connect(drop_cyclic_widget)
    worker.preview.connect(drop_cyclic_widget)

    def run(click, cancel_on: str | None = None) -> str:
        """Press a button that starts an edit and wait for its end; optionally press Cancel
        at the first 'preparing' or 'preview' message."""
        ended.clear()
        hooks = []
        if cancel_on is not None:
            signal = worker.preparing if cancel_on == "preparing" else worker.preview
            hooks.append((signal, lambda *a: panel.cancel_button.click()))
        for signal, hook in hooks:
            signal.connect(hook)
        click()
        wait_for_end()
        for signal, hook in hooks:
            signal.disconnect(hook)
        counts[ended[0]] += 1
        return ended[0]

    worker.finished.connect(lambda *a: ended.append("finished"))
    worker.cancelled.connect(lambda *a: ended.append("cancelled"))
    worker.failed.connect(lambda *a: ended.append("failed"))

    def set_up(task: Task, round_: int) -> None:
        """What Keep spent, set up again: a move box, a drag pair, a placed paste layer."""
        session = window.session
        session.set_options(steps=2)
        if task is Task.MOVE and session.state.box == MoveBox():
            commands.set_box(session, MoveBox(dx=3 if round_ % 2 else -3, dy=1))
        if task is Task.DRAG and not any(p.target for p in session.state.pairs):
            commands.add_point(session, Point(44, 42))
            commands.add_point(session, Point(44, 46))
        if task is Task.PASTE and session.state.paste.at is None:
            commands.set_paste(session, PasteLayer(Point(46, 16), 0.8))

    project = scratch / "soak.diffedit"
    tasks = [Task.MOVE, Task.PASTE, Task.MOVE, Task.DRAG, Task.APPEARANCE]
    round_ = 0
    while counts["finished"] < EDITS:
        task = tasks[round_ % len(tasks)]
        window.task_actions[task].trigger()
        set_up(task, round_)
        action = round_ % 7
        if action == 3:  # cancel while preparing (a kept image is prepared again)
            run(panel.edit_button.click, cancel_on="preparing")
        if action == 5:  # cancel while sampling
            run(panel.edit_button.click, cancel_on="preview")
        run(panel.edit_button.click)
        run(bar.again.click)  # a new seed
        bar.previous.click()
        if action in (0, 2, 4, 6):
            bar.keep.click()
            counts["kept"] += 1
        else:
            bar.discard.click()
            bar.discard.click()
        window.undo_action.trigger()
        window.redo_action.trigger()
        if action in (1, 4):
            window.undo_action.trigger()  # undo a keep or a set-up step, then edit again
        if action in (2, 6):
            assert window.files.save_project_as(project)
            assert window.files.open_project(project)
            counts["reopened"] += 1
        round_ += 1
    if problems:
        raise RuntimeError("; ".join(problems))
    window.close()
    counts["garbage_widgets"] = len(died_in)
    counts["garbage_widgets_in_worker"] = sum(name != "MainThread" for name in died_in)
    return counts


if __name__ == "__main__":
    result = soak(Path(sys.argv[1]), Path(sys.argv[2]))
    print(" ".join(f"{key}={value}" for key, value in result.items()))
