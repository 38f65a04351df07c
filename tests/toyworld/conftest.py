"""The toy-world code lives in bench/ (it is not part of the app): make it importable."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
for folder in (BENCH, BENCH / "toyworld"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
