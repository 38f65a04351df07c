"""`diffeditor serve`'s checks before Ray starts, and its replica plan (no Ray instance)."""

from __future__ import annotations

import socket

import pytest

pytest.importorskip("ray", reason="needs the [serve] extra (Ray Serve)")
pytest.importorskip("fastapi", reason="needs the [serve] extra (FastAPI)")

from diffeditor_app.cli import main
from diffeditor_app.engine import InvalidInput
from diffeditor_app.server.config import ServerConfig
from diffeditor_app.server.serve import plan_replicas


@pytest.mark.parametrize(
    ("args", "code", "sentence"),
    [
        (["--device", "mps"], 2, "Unknown device 'mps'"),
        (["--replicas", "0"], 2, "'--replicas' must be 1 or more"),
        (["--port", "70000"], 2, "'--port' must be between 1 and 65535"),
        (["--model", "/no/such/model"], 1, "does not exist"),
    ],
)
def test_bad_arguments_stop_before_ray_starts(tiny_model_dir, capsys, args, code, sentence):
    base = ["serve", "--model", str(tiny_model_dir), "--port", "8765"]
    assert main([*base, *args]) == code
    err = capsys.readouterr().err
    assert sentence in err and len(err.strip().splitlines()) == 1


def test_a_port_in_use_is_bad_input(tiny_model_dir, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--model", str(tiny_model_dir), "--port", str(port)]) == 2
    assert f"Cannot listen on '127.0.0.1:{port}'" in capsys.readouterr().err


def test_one_replica_per_gpu_or_cpu_replicas():
    assert plan_replicas(ServerConfig(), {"CPU": 16, "GPU": 4}) == (4, 4)
    assert plan_replicas(ServerConfig(replicas=2), {"CPU": 16, "GPU": 4}) == (4, 2)
    assert plan_replicas(ServerConfig(), {"CPU": 2}) == (0, 1)
    assert plan_replicas(ServerConfig(device="cpu", replicas=2), {"CPU": 2, "GPU": 1}) == (0, 2)
    with pytest.raises(InvalidInput, match="need 5 GPUs; the cluster has 4"):
        plan_replicas(ServerConfig(replicas=5), {"CPU": 16, "GPU": 4})
    with pytest.raises(InvalidInput, match="need 3 CPUs"):
        plan_replicas(ServerConfig(replicas=3), {"CPU": 2})
