"""Double-click / `python main.py` entry point: starts the desktop app."""

import sys

from diffeditor_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
