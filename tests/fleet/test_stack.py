"""The compose stack pointed at three engines (deploy/fleet/compose.fleet.yaml), driven through Nginx only.

local -> socket-proxy (compose.yaml) -> the host's dockerd; engine-b -> socket-proxy-b with mutual TLS (certificates
from scripts/fleet-certs.sh) -> a second dockerd; podman -> socket-proxy-c -> Podman's API. Then: a client
certificate from another CA, and no certificate at all, are refused by socket-proxy-b; losing engine-b's proxy
keeps the other two sources answering (partial), and it recovers by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import Engines, only_b_down, wait
from tests.support.pki import TestPKI
from tests.support.stack import ROOT, Stack, image_tag

PODMAN_GROUP = 10090  # the group socket-proxy-c gets for Podman's socket (group_add)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet-certs")
    subprocess.run(["bash", str(ROOT / "scripts" / "fleet-certs.sh"), str(out), "socket-proxy-b"], check=True)
    return out


@pytest.fixture(scope="module")
def fleet(engines: Engines, certs: Path) -> Iterator[Stack]:
    engines.podman.share_with_group(PODMAN_GROUP)
    stack = Stack(
        env={
            "ENGINE_B_SOCKET": str(engines.engine_b.socket),
            "ENGINE_B_GID": str(os.stat(engines.engine_b.socket).st_gid),
            "PODMAN_SOCKET": str(engines.podman.socket),
            "PODMAN_GID": str(PODMAN_GROUP),
            "FLEET_CERTS": str(certs),
            "CACHE_TTL": "0",
            "LIVE_STALE_GRACE": "3",  # this suite waits for "unavailable"; stale is tested in tests/integration
        },
        compose_files=("compose.yaml", "deploy/fleet/compose.fleet.yaml"),
    )
    stack.up()
    try:
        wait(lambda: stack.get("/api/sources").json()["available"] == 3, 60, "three sources synced")
        yield stack
    finally:
        stack.down()


def _settled(fleet: Stack, path: str) -> dict[str, Any]:
    """An answer with every source ok: a busy shared engine can make one resync time out for a moment."""
    return wait(lambda: (r := fleet.get(path).json()) and not r["partial"] and r, 30, f"{path} not partial")


def test_one_stack_sees_three_engines(fleet: Stack, engines: Engines) -> None:
    body = _settled(fleet, f"/api/containers?all=true&label=fleet.test={engines.tag}")
    assert engines.mine(body) == {
        engines.host_id: "local",
        f"engine-b:{engines.engine_b_id}": "engine-b",
        f"podman:{engines.podman_id}": "podman",
    }
    assert body["partial"] is False
    sources = _settled(fleet, "/api/sources")["sources"]
    assert [(s["name"], s["type"], s["status"]) for s in sources] == [
        ("local", "docker", "ok"),
        ("engine-b", "docker", "ok"),
        ("podman", "podman", "ok"),
    ]
    assert sources[1]["endpoint"] == "tcp://socket-proxy-b:2376"
    text = json.dumps(sources)
    assert "api-key.pem" not in text and "/run/fleet-certs" not in text  # no secrets, no key paths


def _tls_probe(fleet: Stack, certs: Path, rogue: TestPKI) -> dict[str, str]:
    """From a container on the engine network: GET /_ping on socket-proxy-b with three client identities."""
    rogue_cert = rogue.issue("inventory-api")
    script = """
import http.client, json, ssl
out = {}
identities = {"ours": ("/c/api.pem", "/c/api-key.pem"), "rogue": ("/r/cert.pem", "/r/key.pem"), "none": None}
for name, chain in identities.items():
    ctx = ssl.create_default_context(cafile="/c/ca.pem")
    if chain:
        ctx.load_cert_chain(*chain)
    try:
        conn = http.client.HTTPSConnection("socket-proxy-b", 2376, context=ctx, timeout=5)
        conn.request("GET", "/_ping")
        out[name] = str(conn.getresponse().status)
    except (ssl.SSLError, OSError) as exc:
        out[name] = "refused: " + exc.__class__.__name__
print(json.dumps(out))
"""
    result = subprocess.run(
        [
            "docker", "run", "--rm", "--network", f"{fleet.project}_engine", "--user", "10001:10001",
            "--cap-drop", "ALL", "--read-only",
            "-v", f"{certs}/ca.pem:/c/ca.pem:ro", "-v", f"{certs}/api.pem:/c/api.pem:ro",
            "-v", f"{certs}/api-key.pem:/c/api-key.pem:ro",
            "-v", f"{rogue_cert.cert}:/r/cert.pem:ro", "-v", f"{rogue_cert.key}:/r/key.pem:ro",
            f"flask-api:{image_tag()}", "python3", "-c", script,
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_mutual_tls_refuses_a_wrong_client_certificate(fleet: Stack, certs: Path, tmp_path: Path) -> None:
    outcome = _tls_probe(fleet, certs, TestPKI(tmp_path / "rogue", name="not-our-ca"))
    assert outcome["ours"] == "200"
    assert outcome["rogue"].startswith("refused") and outcome["none"].startswith("refused")
    logs = fleet.logs("socket-proxy-b")
    assert logs.count('"message": "tls handshake refused"') >= 2


def test_losing_one_engine_keeps_the_others_then_recovers(fleet: Stack, engines: Engines) -> None:
    proxy = fleet.container("socket-proxy-b")
    proxy.stop(timeout=2)
    try:
        partial = wait(
            lambda: only_b_down(fleet.get(f"/api/containers?all=true&label=fleet.test={engines.tag}").json()),
            30,
            "engine-b unavailable (and the others ok)",
        )
        assert set(engines.mine(partial).values()) == {"local", "podman"}
        b = {s["name"]: s for s in partial["sources"]}["engine-b"]
        assert b["status"] == "unavailable" and b["error"]
        started = time.monotonic()
        posture = fleet.get("/api/posture")
        assert posture.status_code == 200 and posture.json()["partial"] is True
        assert time.monotonic() - started < 2.0
    finally:
        proxy.start()
    back = wait(
        lambda: (
            not (r := fleet.get(f"/api/containers?all=true&label=fleet.test={engines.tag}").json())["partial"] and r
        ),
        60,
        "engine-b back",
    )
    assert set(engines.mine(back).values()) == {"local", "engine-b", "podman"}
