"""`diffeditor serve`: start Ray (or join a cluster), run the application, say where it is.

The command prints exactly one line on stdout, `serving on http://HOST:PORT`, once the
server answers an authorised request; it then runs until SIGINT or SIGTERM, when it shuts
Serve and its own Ray instance down, so no process outlives it.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable

import httpx
import ray
from ray import serve

from diffeditor_app.engine.errors import InvalidInput, ModelUnavailable
from diffeditor_app.server.api import INFO_PATH
from diffeditor_app.server.app import QUIET_ENV, build_app
from diffeditor_app.server.config import LOOPBACK_HOSTS, ServerConfig, exposure_note

APP_NAME = "diffeditor"
READY_TIMEOUT_S = 120.0  # from serve.run's return until the first authorised answer
READY_POLL_S = 0.25
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
RAY_START_ATTEMPTS = 2  # a local Ray instance whose node registers too slowly is restarted once


def plan_replicas(config: ServerConfig, resources: dict[str, float]) -> tuple[int, int]:
    """(GPUs used, replicas): one replica per GPU, or CPU replicas (one CPU each)."""
    gpus = 0 if config.device == "cpu" else int(resources.get("GPU", 0))
    replicas = config.replicas or max(gpus, 1)
    if gpus and replicas > gpus:
        raise InvalidInput(f"{replicas} replicas need {replicas} GPUs; the cluster has {gpus}.")
    cpus = int(resources.get("CPU", 0))
    if not gpus and replicas > cpus:
        raise InvalidInput(
            f"{replicas} CPU replicas need {replicas} CPUs; the Ray instance has {cpus}."
        )
    return gpus, replicas


def wait_until_answering(url: str, token: str, stop: threading.Event) -> None:
    """Poll the info endpoint until the whole path (proxy, gateway, a replica) answers."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        try:
            if httpx.get(url + INFO_PATH, headers=headers, timeout=5.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ModelUnavailable(f"The server did not answer at {url} within the time-out.")
        stop.wait(READY_POLL_S)


def start_ray(address: str | None) -> None:
    """Join `address`, or start a local instance (again, once, if its node was too slow to
    register: Ray allows it a fixed 30 s, which a busy machine can miss). A local instance
    must have come up on loopback (`ray_environment`), with no dashboard."""
    attempts = 1 if address else RAY_START_ATTEMPTS
    for attempt in range(attempts):
        try:
            ray.init(
                address=address or "local",  # "local": never an unrelated running instance
                include_dashboard=False,
                dashboard_host="127.0.0.1",
                logging_level=logging.WARNING,
                log_to_driver=False,
                runtime_env={"env_vars": QUIET_ENV},
            )
            node = ray.util.get_node_ip_address()
            if address is None and node not in LOOPBACK_HOSTS:
                raise ModelUnavailable(
                    f"Ray started on {node}, not on loopback; run diffeditor serve as a "
                    "command of its own."
                )
            return
        except Exception as error:  # Ray raises a bare Exception for this
            if "timed out during startup" not in str(error) or attempt + 1 == attempts:
                raise
            ray.shutdown()


def run_server(
    config: ServerConfig, token: str, announce: Callable[[str], None] | None = None
) -> int:
    """Serve until SIGINT or SIGTERM; the exit code of the command. The caller has checked
    the config and set `ray_environment` before Ray was imported."""
    note = exposure_note(config)
    if note:
        print(f"diffeditor: note: {note}", file=sys.stderr, flush=True)
    start_ray(config.address)
    stop = threading.Event()  # after ray.init, which installs its own SIGTERM handler
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    try:
        gpus, replicas = plan_replicas(config, ray.cluster_resources())
        serve.start(
            http_options={"host": config.host, "port": config.port},
            logging_config={"log_level": "WARNING"},
        )
        try:
            serve.run(build_app(config, token, gpus, replicas), name=APP_NAME, route_prefix="/")
        except RuntimeError as error:  # a replica that cannot load the model
            raise ModelUnavailable(
                f"The server could not start its editors: {str(error).strip().splitlines()[-1]}"
            ) from None
        url = f"http://{config.host}:{config.port}"
        wildcard = config.host in WILDCARD_HOSTS  # listening everywhere: ask over loopback
        wait_until_answering(f"http://127.0.0.1:{config.port}" if wildcard else url, token, stop)
        if not stop.is_set():
            (announce or _print)(f"serving on {url}")
        stop.wait()
    finally:
        serve.shutdown()
        ray.shutdown()
    return 0


def _print(text: str) -> None:
    print(text, flush=True)
