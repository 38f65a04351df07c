"""The README opens with the two set-up commands, and CI runs exactly those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [block.strip() for block in blocks[:2]]


def test_readme_opens_with_run_and_test_commands():
    run, test = readme_commands()
    assert "diffeditor edit move" in run and "pytest" in test
    for command in (run, test):
        assert command.count("\n") == 0, "each set-up command is one line"
        # the locked, hash-checked versions (requirements/), the CPU torch among them
        assert "pip install --require-hashes -r requirements/linux-torch-cpu.txt" in command
        assert "pip install --no-deps -e ." in command
    assert "-r requirements/linux-app.txt" in run and "-r requirements/linux-dev.txt" in test


def test_ci_runs_the_readme_commands_verbatim_and_in_order():
    ci = (ROOT / ".ci" / "run").read_text()
    run, test = readme_commands()
    assert run in ci and test in ci
    assert ci.index(run) < ci.index(test)  # the app's lock alone first, then the developer set
