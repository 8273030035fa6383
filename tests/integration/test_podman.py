"""The Docker backend against Podman's Docker-compatible API (a real `podman system service`).

Containers cannot be *started* by Podman inside this CI sandbox (runc may not set rlimits),
so the test creates one and lists it with all=true: list, inspect and posture go through the
same code path as on a Docker engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest
from inventory.app import create_app
from inventory.wiring import configure

from tests.support.prereq import tool
from tests.support.stack import docker_bin


@pytest.fixture(scope="module", autouse=True)
def _podman() -> None:
    tool("podman", "tools/apt-packages.txt")


BASE = "debian:bookworm-slim"


@pytest.fixture()
def podman_socket():
    tmp = tempfile.mkdtemp(prefix="invtest-podman-")
    sock = os.path.join(tmp, "podman.sock")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not os.path.exists(sock):
        assert time.monotonic() < deadline and service.poll() is None, "podman service did not start"
        time.sleep(0.1)
    if subprocess.run(["podman", "image", "exists", f"localhost/{BASE}"], check=False).returncode != 0:
        save = subprocess.Popen([docker_bin(), "save", BASE], stdout=subprocess.PIPE)
        subprocess.run(["podman", "load", "-q"], stdin=save.stdout, check=True, capture_output=True)
        save.wait()
    name = f"invtest-podman-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [
            "podman",
            "create",
            "--name",
            name,
            "--privileged",
            "--network",
            "host",
            "--label",
            "tier=podman",
            "-e",
            "SECRET_TOKEN=podman-canary",
            f"localhost/{BASE}",
            "sleep",
            "300",
        ],
        check=True,
        capture_output=True,
    )
    yield sock, name
    subprocess.run(["podman", "rm", "-f", name], check=False, capture_output=True)
    service.terminate()
    service.wait(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)


def test_inventory_over_podman_docker_api(
    podman_socket, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    sock, name = podman_socket
    # The app runs in this test process: keep OpenTelemetry from instrumenting `requests` here,
    # or every later test request would carry the instrumentation's own traceparent.
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    app = create_app(configure({"DOCKER_HOST": f"unix://{sock}", "CACHE_TTL": "0"}))
    request.addfinalizer(app.extensions["inventory"].live.stop)  # before the podman service goes away
    client = app.test_client()
    # ready = the live state's first sync (list + inspect over podman) is done; the engine's version is a bonus that
    # /readyz adds when the version call answers within the engine timeout (a loaded machine can miss one): wait
    # for both, on the condition, not for a fixed time
    deadline = time.monotonic() + 60
    ready = client.get("/readyz").get_json()
    while not (ready.get("status") == "ready" and ready["backend"].get("version")) and time.monotonic() < deadline:
        time.sleep(0.2)
        ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["backend"]["version"], ready
    listing = client.get("/api/containers?all=true&label=tier=podman").get_json()
    assert [c["name"] for c in listing["items"]] == [name]
    detail = client.get(f"/api/containers/{name}")
    body = detail.get_json()
    assert detail.status_code == 200 and body["security"]["privileged"] is True
    assert body["security"]["host_network"] is True
    rules = {f["rule"] for f in body["findings"]}
    assert {"privileged", "host-network", "run-as-root"} <= rules
    assert "podman-canary" not in detail.get_data(as_text=True)
