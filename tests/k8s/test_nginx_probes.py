"""nginx's probes against the REAL nginx image (issue 17, 9): liveness and startup must not depend on another pod.

An API outage must not make the kubelet restart every nginx pod, so the rendered startup and liveness probes have
to succeed on an nginx whose upstream is down; the readiness probe may follow the upstream (it takes the pod out of
the Service instead of restarting it). The upstream is "down" as in a cluster where the API's Service has no ready
endpoints: its name resolves (here to 127.0.0.1) and nothing listens on the port.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from .conftest import ENVS, one, pod_spec, render
from .test_parity import REGISTRY, TAG, _engine, _get, _need_image, _port, docker, pytestmark, run_flags

__all__ = ["_engine", "pytestmark"]  # the Docker marker and the engine check (autouse fixture)
PROBES = ("startupProbe", "livenessProbe")


def _nginx(env: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = pod_spec(one(render(env), "Deployment", "nginx-proxy"))
    return spec, next(c for c in spec["containers"] if c["name"] == "nginx-proxy")


def _probe(container: dict[str, Any], kind: str) -> tuple[str, int]:
    get = container[kind]["httpGet"]
    port = get["port"]
    if isinstance(port, str):
        port = next(p["containerPort"] for p in container["ports"] if p["name"] == port)
    return get["path"], port


@pytest.fixture(scope="module")
def nginx_without_api():
    """The prod nginx pod spec on the real image, its API_UPSTREAM resolving to an address nothing listens on."""
    _need_image("nginx-proxy")
    spec, container = _nginx("prod")
    upstream = next(e["value"] for e in container["env"] if e["name"] == "API_UPSTREAM")
    ports = sorted({p["containerPort"] for p in container["ports"]} | {_probe(container, k)[1] for k in PROBES})
    name = f"k8sprobes-{uuid.uuid4().hex[:8]}"
    publish = [f for port in ports for f in ("-p", f"127.0.0.1::{port}")]
    docker(
        "run", "-d", "--name", name, "--add-host", f"{upstream.split(':')[0]}:127.0.0.1",
        *publish, *run_flags(spec, container), f"{REGISTRY}nginx-proxy:{TAG}",
    )  # fmt: skip
    try:
        yield container, {port: _port(name, port) for port in ports}
    finally:
        docker("rm", "-f", name, check=False)


def _status(mapped: dict[int, int], path: str, port: int) -> int:
    deadline = time.monotonic() + 20
    while True:
        try:
            return _get(f"http://127.0.0.1:{mapped[port]}{path}")[0]
        except OSError:  # nginx still starting (connection refused or reset)
            assert time.monotonic() < deadline
            time.sleep(0.3)


@pytest.mark.parametrize("kind", PROBES)
def test_nginx_stays_alive_while_the_api_is_down(nginx_without_api, kind):
    container, mapped = nginx_without_api
    path, port = _probe(container, kind)
    assert _status(mapped, path, port) == 200, f"{kind} {path}:{port} fails while the API is down: nginx restarts"


def test_readiness_follows_the_api(nginx_without_api):
    container, mapped = nginx_without_api
    path, port = _probe(container, "readinessProbe")
    assert _status(mapped, path, port) != 200, "readiness should take nginx out of the Service while the API is down"


@pytest.mark.parametrize("env", ENVS)
def test_every_environment_probes_nginx_the_same_way(env):
    reference = {k: _probe(_nginx("prod")[1], k) for k in (*PROBES, "readinessProbe")}
    assert {k: _probe(_nginx(env)[1], k) for k in reference} == reference
