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
        assert "pip install torch==2.13.0" in command  # the CPU wheel, before the project


def test_ci_runs_the_readme_commands_verbatim():
    ci = (ROOT / ".ci" / "run").read_text()
    for command in readme_commands():
        assert command in ci
