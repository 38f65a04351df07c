"""The bundle's entry script: the same `diffeditor` command as the installed app.

`--self-test` is dispatched here as well as in the CLI, so a bundle proves itself even before
anything else in the command line is parsed.
"""

import multiprocessing
import os
import sys


def main() -> int:
    multiprocessing.freeze_support()  # a frozen app must not re-run itself in child processes
    for stream in ("stdout", "stderr"):  # a windowed Windows exe has none: progress bars and
        if getattr(sys, stream) is None:  # log handlers would fail writing to None
            setattr(sys, stream, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    if sys.argv[1:] == ["--self-test"]:
        from diffeditor_app.selftest import run

        return run()
    from diffeditor_app.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
