"""The real app over three real engines at once: the host's dockerd, a second dockerd, Podman.

The API runs in this process (the real app factory, live state, SOURCES_FILE), talking to each engine's
unix socket. The second engine is stopped mid-test, frozen (SIGSTOP: it accepts connections and never
answers) and brought back: answers stay fast and partial, then recover by themselves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from inventory.app import create_app
from inventory.wiring import configure

from tests.fleet.conftest import Engines, only_b_down, wait

DEADLINE = 1.0 + 0.2  # ENGINE_TIMEOUT below + the fleet's slack


def _write_sources(path: Path, engines: Engines, extra: str = "") -> Path:
    path.write_text(
        "sources:\n"
        "  - {name: local, type: docker, url: 'unix:///var/run/docker.sock'}\n"
        f"  - {{name: engine-b, type: docker, url: '{engines.engine_b.url}'}}\n"
        f"  - {{name: podman, type: podman, url: '{engines.podman.url}'}}\n" + extra
    )
    return path


@pytest.fixture()
def api(engines: Engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # The app runs in this process: keep OpenTelemetry from instrumenting `requests` here.
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    sources = _write_sources(tmp_path / "sources.yaml", engines)
    config = configure(
        # A short stale grace period: this suite waits for "unavailable" (the stale state is tested in api/tests
        # and tests/integration/test_live.py).
        {
            "SOURCES_FILE": str(sources),
            "ENGINE_TIMEOUT": "1",
            "CACHE_TTL": "0",
            "LIVE_RESYNC_INTERVAL": "5",
            "LIVE_STALE_GRACE": "3",
        }
    )
    app = create_app(config)
    service = app.extensions["inventory"]
    service.start()
    client = app.test_client()
    wait(lambda: client.get("/api/sources").get_json()["available"] == 3, 30, "all three sources synced")
    yield client
    service.stop()


def _settled(api: Any, path: str) -> dict[str, Any]:
    """An answer with every source ok: a busy shared engine can make one resync time out for a moment."""
    return wait(lambda: (r := api.get(path).get_json()) and not r["partial"] and r, 30, f"{path} not partial")


def test_one_listing_over_three_engines_with_ids_unique_across_sources(api: Any, engines: Engines) -> None:
    body = _settled(api, f"/api/containers?all=true&label=fleet.test={engines.tag}")
    assert engines.mine(body) == {
        engines.host_id: "local",  # the default source keeps the engine's ids
        f"engine-b:{engines.engine_b_id}": "engine-b",
        f"podman:{engines.podman_id}": "podman",
    }
    assert body["partial"] is False
    assert [(s["name"], s["status"]) for s in body["sources"]] == [
        ("local", "ok"),
        ("engine-b", "ok"),
        ("podman", "ok"),
    ]
    only_b = api.get(f"/api/containers?all=true&source=engine-b&label=fleet.test={engines.tag}").get_json()
    assert list(engines.mine(only_b).values()) == ["engine-b"]
    assert [s["name"] for s in only_b["sources"]] == ["engine-b"]
    unknown = api.get("/api/containers?source=nope")
    assert unknown.status_code == 400 and unknown.get_json()["parameter"] == "source"


def test_detail_and_findings_carry_the_source(api: Any, engines: Engines) -> None:
    detail = api.get(f"/api/containers/engine-b:{engines.engine_b_id[:10]}")
    body = detail.get_json()
    assert detail.status_code == 200, body
    assert body["container"]["id"] == f"engine-b:{engines.engine_b_id}"
    assert body["container"]["source"] == "engine-b" and body["security"]["user"] == ""
    assert {f["source"] for f in body["findings"]} == {"engine-b"}
    assert {"run-as-root", "writable-rootfs"} <= {f["rule"] for f in body["findings"]}
    podman = api.get(f"/api/containers/fleet-p-{engines.tag}").get_json()
    assert podman["container"]["source"] == "podman" and podman["security"]["cap_add"] == ["NET_ADMIN"]
    posture = _settled(api, "/api/posture?all=true")
    sources = {c["source"] for c in posture["containers"] if c["name"].endswith(engines.tag)}
    assert sources == {"local", "engine-b", "podman"}
    assert posture["partial"] is False


def test_sources_endpoint_shows_health_without_secrets(api: Any, engines: Engines) -> None:
    body = _settled(api, "/api/sources")
    by_name = {s["name"]: s for s in body["sources"]}
    assert set(by_name) == {"local", "engine-b", "podman"}
    b = by_name["engine-b"]
    assert b["type"] == "docker" and b["status"] == "ok" and b["error"] is None
    assert b["endpoint"] == engines.engine_b.url and b["containers"] >= 1 and b["last_sync"].endswith("Z")
    assert by_name["podman"]["type"] == "podman"


def test_engine_down_then_back_partial_answers_then_recovery(api: Any, engines: Engines) -> None:
    engines.engine_b.stop()
    try:
        down = wait(
            lambda: only_b_down(api.get(f"/api/containers?all=true&label=fleet.test={engines.tag}").get_json()),
            20,
            "engine-b reported unavailable (and the others ok)",
        )
        assert set(engines.mine(down).values()) == {"local", "podman"}
        status = {s["name"]: s for s in down["sources"]}["engine-b"]
        assert status["status"] == "unavailable" and status["error"] and status["containers"] is None
        started = time.monotonic()
        assert api.get("/api/containers").status_code == 200
        posture = api.get("/api/posture").get_json()
        assert time.monotonic() - started < 2 * DEADLINE
        assert posture["partial"] is True
        gone = api.get(f"/api/containers/engine-b:{engines.engine_b_id}")
        assert gone.status_code == 503 and "engine-b" in gone.get_json()["detail"]
        assert api.get("/readyz").status_code == 200  # the API still answers for the healthy sources
        metrics = api.get("/metrics").get_data(as_text=True)
        assert 'inventory_source_up{source="engine-b",type="docker"} 0.0' in metrics
        assert 'inventory_source_up{source="podman",type="podman"} 1.0' in metrics
    finally:
        engines.engine_b.start()
    back = wait(
        lambda: (
            not (r := api.get(f"/api/containers?all=true&label=fleet.test={engines.tag}").get_json())["partial"] and r
        ),
        30,
        "engine-b back",
    )
    assert set(engines.mine(back).values()) == {"local", "engine-b", "podman"}


def test_a_frozen_engine_never_slows_the_answer(api: Any, engines: Engines) -> None:
    engines.engine_b.freeze()
    try:
        for path in ("/api/containers", "/api/posture", "/api/sources", "/readyz"):
            started = time.monotonic()
            assert api.get(path).status_code == 200, path
            assert time.monotonic() - started < DEADLINE, path
    finally:
        engines.engine_b.resume()


def test_503_only_when_every_source_is_unavailable(
    engines: Engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    sources = tmp_path / "dead.yaml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: gone-1, type: docker, url: 'unix://{tmp_path}/none-1.sock'}}\n"
        f"  - {{name: gone-2, type: podman, url: 'unix://{tmp_path}/none-2.sock'}}\n"
    )
    app = create_app(configure({"SOURCES_FILE": str(sources), "ENGINE_TIMEOUT": "0.5"}))
    service = app.extensions["inventory"]
    service.start()
    try:
        client = app.test_client()
        started = time.monotonic()
        resp = client.get("/api/containers")
        assert time.monotonic() - started < 2.0
        body = resp.get_json()
        assert resp.status_code == 503 and resp.headers["Retry-After"]
        assert "gone-1" in body["detail"] and "gone-2" in body["detail"]
        assert client.get("/readyz").status_code == 503
        listed = client.get("/api/sources")
        assert listed.status_code == 200 and listed.get_json()["available"] == 0
    finally:
        service.stop()
