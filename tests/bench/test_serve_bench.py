"""bench/serve.py's report from known numbers (its full run starts servers: not a test)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "serve.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("serve_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_the_report_has_every_row_and_the_overhead():
    bench = load_bench()
    report = {
        "command": "python bench/serve.py --edits 2",
        "steps": 8,
        "image": "96x64",
        "cpus": 2,
        "load_average": {"start": [1.0, 1.0, 1.0], "end": [2.0, 2.0, 2.0]},
        "throughput": [
            {"replicas": r, "clients": c, "edits": 2 * c, "wall_s": 1.5, "edits_per_min": 80.0}
            for r in (1, 2)
            for c in (1, 2, 4)
        ],
        "overhead": {"local_s": 0.3, "server_s": 0.45, "overhead_s": 0.15, "ratio": 1.5},
    }
    text = bench.markdown(report)
    assert "`python bench/serve.py --edits 2`" in text
    assert text.count("| 80.0 |") == 6
    assert "| 2 | 4 | 8 | 1.5 | 80.0 |" in text
    assert "| overhead of the server path | 0.15 (ratio 1.5) |" in text
