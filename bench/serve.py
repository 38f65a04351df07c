"""Throughput and overhead of `diffeditor serve` on the tiny model, CPU only, loopback.

    python bench/serve.py [--steps 8] [--edits 6] [--replicas 1 2] [--clients 1 2 4]

For each replica count a server is started as a child process (ServerProcess); every
client edits its own image (prepared once in a warm-up, as an artist re-running edits of
one picture would), and edits per minute are counted over the wall time of all clients.
The overhead of the server path is the median warm edit through a one-replica server minus
the median warm edit of an in-process Editor on one thread (a replica's share of the CPU).
Writes bench/results/serve.json and serve.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from diffeditor_app.engine import Editor, ModelSpec
from diffeditor_app.engine.models.loading import load_model
from diffeditor_app.engine.models.testing import tinted_scene, write_tiny_model
from diffeditor_app.engine.tasks.move import MoveEdit
from diffeditor_app.server.client import RemoteEditor, ServerAddress
from diffeditor_app.server.process import ServerProcess, free_port

RESULTS = Path(__file__).resolve().parent / "results"
WIDTH, HEIGHT = 96, 64  # a scene inside the tiny model's resolution range
TOKEN = "bench-token"
OVERHEAD_RUNS = 5  # warm edits timed for the overhead medians


def request(client: int, seed: int, steps: int) -> MoveEdit:
    image, mask = tinted_scene(client + 1, WIDTH, HEIGHT)
    return MoveEdit(image=image, mask=mask, offset=(14, 3), steps=steps, seed=seed)


def timed(edit, runs: int) -> float:
    """Median seconds of `runs` calls of `edit(seed)`."""
    times = []
    for seed in range(runs):
        start = time.perf_counter()
        edit(seed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def warm_remote_edit(address: ServerAddress, steps: int) -> float:
    """Median seconds of a warm edit (its image prepared) through the server."""
    remote = RemoteEditor(address)
    remote.edit(request(0, 0, steps))
    seconds = timed(lambda seed: remote.edit(request(0, seed + 1, steps)), OVERHEAD_RUNS)
    remote.close()
    return seconds


def throughput(address: ServerAddress, clients: int, edits: int, steps: int) -> dict:
    """`clients` threads, each with its own RemoteEditor and image, `edits` edits each."""
    editors = [RemoteEditor(address, client_id=f"bench-{c}") for c in range(clients)]
    for c, editor in enumerate(editors):  # warm-up: every image prepared on its replica
        editor.edit(request(c, 0, steps))
    errors: list[BaseException] = []

    def run(c: int) -> None:
        try:
            for seed in range(1, edits + 1):
                editors[c].edit(request(c, seed, steps))
        except BaseException as error:  # reported below, never lost in a thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    for editor in editors:
        editor.close()
    if errors:
        raise errors[0]
    return {
        "clients": clients,
        "edits": clients * edits,
        "wall_s": round(wall, 2),
        "edits_per_min": round(clients * edits / wall * 60, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="sampling steps per edit")
    parser.add_argument("--edits", type=int, default=6, help="timed edits per client")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path, default=RESULTS / "serve")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python bench/serve.py", shlex.join(given)]).strip()
    load_before = [round(v, 2) for v in os.getloadavg()]

    work = Path(tempfile.mkdtemp(prefix="diffeditor-bench-serve-"))
    model = write_tiny_model(work / "tiny")
    torch.set_num_threads(1)  # as a CPU replica runs (one CPU each)
    local = Editor(load_model(ModelSpec(str(model), device="cpu")))
    local.edit(request(0, 0, args.steps))  # prepared, as the server's warm edits are
    local_s = timed(lambda seed: local.edit(request(0, seed + 1, args.steps)), OVERHEAD_RUNS)
    local.close()

    rows, overhead = [], None
    for replicas in args.replicas:
        server_args = ["--model", str(model), "--device", "cpu", "--replicas", str(replicas)]
        server_args += ["--port", str(free_port()), "--queue-limit", str(max(args.clients))]
        started = time.perf_counter()
        with ServerProcess(server_args, TOKEN, work / f"serve-{replicas}.log") as server:
            startup_s = time.perf_counter() - started
            address = ServerAddress(server.url, TOKEN)
            if replicas == 1:
                server_s = warm_remote_edit(address, args.steps)
                overhead = {
                    "local_s": round(local_s, 3),
                    "server_s": round(server_s, 3),
                    "overhead_s": round(server_s - local_s, 3),
                    "ratio": round(server_s / local_s, 2),
                }
            for clients in args.clients:
                row = throughput(address, clients, args.edits, args.steps)
                rows.append({"replicas": replicas, "startup_s": round(startup_s, 1), **row})
                print(json.dumps(rows[-1]), flush=True)

    report = {
        "command": command,
        "steps": args.steps,
        "image": f"{WIDTH}x{HEIGHT}",
        "cpus": os.cpu_count(),
        "load_average": {
            "start": load_before,
            "end": [round(v, 2) for v in os.getloadavg()],
        },
        "throughput": rows,
        "overhead": overhead,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    lines = [
        "# diffeditor serve: throughput and overhead (tiny model, CPU replicas, loopback)",
        "",
        f"Command: `{report['command']}`; {report['steps']} steps per edit on a "
        f"{report['image']} scene; {report['cpus']} CPUs shared with other work (load average "
        f"{report['load_average']['start']} at the start, {report['load_average']['end']} at "
        "the end).",
        "",
        "| replicas | clients | edits | wall s | edits / min |",
        "|---|---|---|---|---|",
    ]
    for row in report["throughput"]:
        lines.append(
            f"| {row['replicas']} | {row['clients']} | {row['edits']} | {row['wall_s']} "
            f"| {row['edits_per_min']} |"
        )
    o = report["overhead"]
    if o is not None:
        lines += [
            "",
            "| warm edit | seconds |",
            "|---|---|",
            f"| local, in-process, 1 thread | {o['local_s']} |",
            f"| through the server, 1 replica | {o['server_s']} |",
            f"| overhead of the server path | {o['overhead_s']} (ratio {o['ratio']}) |",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
