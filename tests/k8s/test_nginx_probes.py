"""nginx's probes against the REAL nginx image (issue 17, 9): liveness and startup must not depend on another pod.

An API outage must not make the kubelet restart every nginx pod, so the rendered startup and liveness probes have
to succeed on an nginx whose upstream is down; the readiness probe may follow the upstream (it takes the pod out of
the Service instead of restarting it). The upstream is "down" as in a cluster where the API's Service has no ready
endpoints: its name resolves (here to 127.0.0.1) and nothing listens on the port.

Each probe is sent as the kubelet sends it: the pod IP as Host unless the probe names one (httpHeaders). nginx
refuses a Host outside its server names with 421 (DNS rebinding, issue 19): a probe that meets that refusal never
passes, so the readiness probe, proxied to the API, must reach the upstream (502 here), never a 421.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from .conftest import ENVS, one, pod_spec, render
from .test_parity import REGISTRY, TAG, _engine, _need_image, _port, docker, pytestmark, run_flags

__all__ = ["_engine", "pytestmark"]  # the Docker marker and the engine check (autouse fixture)
PROBES = ("startupProbe", "livenessProbe")
POD_IP = "10.244.1.17"  # what the kubelet sends as Host when a probe names none


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


def _kubelet_get(url: str, probe: dict[str, Any], port: int) -> int:
    headers = {h["name"]: h["value"] for h in probe["httpGet"].get("httpHeaders", [])}
    headers.setdefault("Host", f"{POD_IP}:{port}")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _status(mapped: dict[int, int], container: dict[str, Any], kind: str) -> int:
    path, port = _probe(container, kind)
    deadline = time.monotonic() + 20
    while True:
        try:
            return _kubelet_get(f"http://127.0.0.1:{mapped[port]}{path}", container[kind], port)
        except OSError:  # nginx still starting (connection refused or reset)
            assert time.monotonic() < deadline
            time.sleep(0.3)


@pytest.mark.parametrize("kind", PROBES)
def test_nginx_stays_alive_while_the_api_is_down(nginx_without_api, kind):
    container, mapped = nginx_without_api
    status = _status(mapped, container, kind)
    assert status == 200, f"{kind} {_probe(container, kind)} answers {status} while the API is down: nginx restarts"


def test_readiness_follows_the_api(nginx_without_api):
    """502: the probe passed nginx's Host check and met the down upstream (it is 200 once the API is ready)."""
    container, mapped = nginx_without_api
    status = _status(mapped, container, "readinessProbe")
    assert status == 502, f"readiness answers {status}: 421 = its Host is not one of nginx's server names"


@pytest.mark.parametrize("env", ENVS)
def test_every_environment_probes_nginx_the_same_way(env):
    reference = {k: _probe(_nginx("prod")[1], k) for k in (*PROBES, "readinessProbe")}
    assert {k: _probe(_nginx(env)[1], k) for k in reference} == reference
