"""DNS rebinding (issue 19): the real nginx image serves the API only under its configured names.

A page in a browser on this machine can point a name it controls at 127.0.0.1 and read what answers as its own
origin (auth is off by default). The browser then sends the page's own name as Host: nginx must refuse it with a
421 problem+json that carries nothing of the inventory, and never pass it to the API. 127.0.0.1, localhost and the
names of SERVER_NAMES (the stack here sets `inventory.test`, see conftest.py) are served as before.
"""

from __future__ import annotations

import json
import socket
import time
import uuid

import docker
import pytest
import requests

from tests.integration.conftest import LONG_NAME, SERVER_NAME
from tests.support.stack import Stack, image_tag

PROBLEM = "application/problem+json"
MISDIRECTED = {
    "type": "https://github.com/container-inventory/problems/misdirected-request",
    "title": "Misdirected Request",
    "status": 421,
    "detail": "this server answers only the names it is configured for (127.0.0.1, localhost and SERVER_NAMES); "
    "the request's Host header names another",
}
REBINDING = ("attacker.example", "127.0.0.1.attacker.example", "localhost.attacker.example", f"{SERVER_NAME}.evil.test")
PATHS = ("/api/containers", "/api/posture", "/openapi.json", "/healthz", "/readyz", "/ui/", "/api/nope")


def _get(stack: Stack, path: str, host: str) -> requests.Response:
    return stack.get(path, headers={"Host": f"{host}:{stack.http_port}"})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", SERVER_NAME, SERVER_NAME.upper(), LONG_NAME])
def test_configured_names_are_served(stack: Stack, canary_container, host: str) -> None:
    assert _get(stack, "/api/containers", host).status_code == 200
    resp = _get(stack, f"/api/containers/{canary_container.name}", host)
    assert resp.status_code == 200, resp.text
    assert resp.json()["container"]["name"] == canary_container.name  # the real inventory, not an error page


@pytest.mark.parametrize("host", REBINDING)
def test_a_rebinding_host_gets_421_problem_json_and_no_inventory(stack: Stack, canary_container, host: str) -> None:
    for path in PATHS:
        resp = _get(stack, path, host)
        assert resp.status_code == 421, (path, resp.status_code)
        assert resp.headers["Content-Type"].startswith(PROBLEM), path
        assert resp.json() == MISDIRECTED, path
        assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Content-Type-Options"] == "nosniff"
        assert canary_container.name not in resp.text and "flask-api" not in resp.text


def test_a_refused_host_never_reaches_the_api(stack: Stack) -> None:
    rid = f"rebind-{uuid.uuid4().hex}"
    resp = stack.get("/api/containers", headers={"Host": "attacker.example", "X-Request-ID": rid})
    assert resp.status_code == 421
    deadline = time.monotonic() + 10
    while True:
        edge = [json.loads(x) for x in stack.logs("nginx-proxy").splitlines() if rid in x and x.startswith("{")]
        if edge:
            break
        assert time.monotonic() < deadline, "nginx did not log the refused request"
        time.sleep(0.2)
    assert edge[0]["status"] == 421 and edge[0]["upstream_status"] == "", edge
    assert rid not in stack.logs("flask-api")


def test_a_request_without_host_is_refused(stack: Stack) -> None:
    """HTTP/1.0 allows no Host at all: that is not one of our names either."""
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=5) as s:
        s.sendall(b"GET /api/containers HTTP/1.0\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 421 "), head
    assert json.loads(body) == MISDIRECTED


def test_nginx_liveness_answers_any_host(stack: Stack) -> None:
    """The kubelet probes with the pod IP as Host: /nginx-healthz is the one exempt path (a constant answer)."""
    resp = _get(stack, "/nginx-healthz", "10.244.3.7")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


@pytest.mark.parametrize("bad", ["bad;name", "_", "~^.*$", "a..b", "*", "inv.example.com/x"])
def test_server_names_rejects_what_is_not_a_host_name(client: docker.DockerClient, bad: str) -> None:
    c = client.containers.run(
        f"nginx-proxy:{image_tag()}",
        environment={"SERVER_NAMES": f"inv.example.com, {bad}"},
        read_only=True,
        tmpfs={"/tmp": "size=16m,mode=1777"},
        detach=True,
    )
    try:
        assert c.wait(timeout=30)["StatusCode"] == 2
        assert f"SERVER_NAMES: '{bad}' is not a host name" in c.logs().decode()
    finally:
        c.remove(force=True)
