"""The fleet at the Backend boundary: three recorded engines as three sources of one real app.

The real engines (host dockerd, a second dockerd, Podman) are driven by tests/fleet; here every edge case
is cheap: a source down, a slow source, every source down, ids across sources, references, the OpenAPI
contract of the new fields.
"""

from __future__ import annotations

import time
from typing import Any

import jsonschema
import pytest
from conftest import Clock, RecordedBackend, make_fleet_app, timings
from inventory.fleet.config import SourceConfig
from inventory.fleet.sources import Source
from inventory.live import make_live_state
from inventory.openapi import spec
from inventory.posture import WaiverPolicy
from inventory.service import InventoryService

SPEC = spec("test")
NAMES = ("local", "edge-1", "pod")


def validate(body: Any, schema_name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


@pytest.fixture()
def backends() -> dict[str, RecordedBackend]:
    return {name: RecordedBackend() for name in NAMES}


@pytest.fixture()
def fleet_app(backends: dict[str, RecordedBackend]) -> Any:
    return make_fleet_app(backends)


@pytest.fixture()
def client(fleet_app: Any) -> Any:
    return fleet_app.test_client()


def test_one_listing_over_every_source_with_unique_ids(client: Any, backends: dict[str, RecordedBackend]) -> None:
    body = client.get("/api/containers?all=true&limit=100").get_json()
    validate(body, "ContainerList")
    assert body["total"] == 9 and body["partial"] is False
    assert [s["name"] for s in body["sources"]] == list(NAMES)
    ids = [c["id"] for c in body["items"]]
    assert len(set(ids)) == 9, "the same engine ids on three sources must still be unique"
    engine_id = backends["local"].listing[0]["Id"]
    assert {engine_id, f"edge-1:{engine_id}", f"pod:{engine_id}"} <= set(ids)
    edge = next(c for c in body["items"] if c["id"] == f"edge-1:{engine_id}")
    assert edge["source"] == "edge-1" and edge["short_id"] == f"edge-1:{engine_id[:12]}"
    only = client.get("/api/containers?all=true&source=pod").get_json()
    assert {c["source"] for c in only["items"]} == {"pod"} and [s["name"] for s in only["sources"]] == ["pod"]
    bad = client.get("/api/containers?source=nope")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "source"
    assert "local, edge-1, pod" in bad.get_json()["detail"]


def test_paging_is_stable_across_sources(client: Any) -> None:
    seen: list[str] = []
    url = "/api/containers?all=true&limit=2"
    while url:
        page = client.get(url).get_json()
        seen.extend(c["id"] for c in page["items"])
        url = f"/api/containers?all=true&limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    assert seen == sorted(seen) and len(seen) == 9


def test_one_source_down_gives_a_partial_answer(client: Any, backends: dict[str, RecordedBackend]) -> None:
    backends["edge-1"].down = True
    body = client.get("/api/containers?all=true").get_json()
    validate(body, "ContainerList")
    assert body["partial"] is True and body["total"] == 6
    assert {c["source"] for c in body["items"]} == {"local", "pod"}
    edge = {s["name"]: s for s in body["sources"]}["edge-1"]
    assert edge == {"name": "edge-1", "status": "unavailable", "containers": None, "error": edge["error"]}
    assert "unreachable" in edge["error"]
    posture = client.get("/api/posture?all=true").get_json()
    validate(posture, "Posture")
    assert posture["partial"] is True and {c["source"] for c in posture["containers"]} == {"local", "pod"}
    sources = client.get("/api/sources").get_json()
    validate(sources, "Sources")
    assert sources["available"] == 2 and sources["partial"] is True
    assert client.get("/readyz").status_code == 200
    engine_id = backends["local"].listing[0]["Id"]
    missing = client.get(f"/api/containers/edge-1:{engine_id}")
    assert missing.status_code == 503 and "edge-1" in missing.get_json()["detail"]
    backends["edge-1"].down = False
    assert client.get("/api/containers?all=true").get_json()["partial"] is False


def test_a_source_that_just_lost_its_engine_is_stale_not_missing(
    client: Any, backends: dict[str, RecordedBackend], clock: Clock
) -> None:
    assert client.get("/api/containers?all=true").get_json()["total"] == 9  # every source synced once
    backends["edge-1"].down = True
    body = validate_and_return(client.get("/api/containers?all=true").get_json(), "ContainerList")
    assert body["total"] == 9 and body["partial"] is False and body["stale"] is True
    edge = {s["name"]: s for s in body["sources"]}["edge-1"]
    assert edge["status"] == "stale" and edge["containers"] == 3 and "unreachable" in edge["error"]
    assert {s["status"] for s in body["sources"] if s["name"] != "edge-1"} == {"ok"}
    posture = validate_and_return(client.get("/api/posture?all=true").get_json(), "Posture")
    assert posture["stale"] is True and posture["partial"] is False
    assert {c["source"] for c in posture["containers"]} == {"local", "edge-1", "pod"}
    sources = validate_and_return(client.get("/api/sources").get_json(), "Sources")
    assert sources["available"] == 3 and sources["stale"] is True and sources["partial"] is False
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'inventory_source_up{source="edge-1",type="docker"} 0.0' in metrics
    assert 'inventory_containers{source="edge-1",state="running"} 2.0' in metrics
    clock.advance(16)  # the grace period (15 s by default) ends: the same snapshot is now unavailable
    late = client.get("/api/containers?all=true").get_json()
    assert late["total"] == 6 and late["partial"] is True and late["stale"] is False
    assert {s["name"]: s["status"] for s in late["sources"]}["edge-1"] == "unavailable"
    assert 'inventory_containers{source="edge-1"' not in client.get("/metrics").get_data(as_text=True)
    backends["edge-1"].down = False
    back = client.get("/api/containers?all=true").get_json()
    assert back["total"] == 9 and back["partial"] is False and back["stale"] is False


def validate_and_return(body: Any, schema_name: str) -> Any:
    validate(body, schema_name)
    return body


def test_a_slow_source_costs_at_most_its_own_deadline(client: Any, backends: dict[str, RecordedBackend]) -> None:
    backends["pod"].delay = 5.0  # far beyond its 1 s timeout
    started = time.monotonic()
    body = client.get("/api/containers?all=true").get_json()
    assert time.monotonic() - started < 2.5  # 1 s + slack, with room for a busy CI machine
    assert body["partial"] is True and {c["source"] for c in body["items"]} == {"local", "edge-1"}
    assert {s["name"]: s["status"] for s in body["sources"]}["pod"] == "unavailable"


def test_503_only_when_every_source_is_down(client: Any, backends: dict[str, RecordedBackend]) -> None:
    for backend in backends.values():
        backend.down = True
    resp = client.get("/api/containers")
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    assert all(name in resp.get_json()["detail"] for name in NAMES)
    assert client.get("/api/posture").status_code == 503
    assert client.get("/readyz").status_code == 503
    listed = client.get("/api/sources")
    assert listed.status_code == 200 and listed.get_json()["available"] == 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'inventory_backend_up{backend="docker"} 0.0' in metrics
    assert 'inventory_source_up{source="pod",type="podman"} 0.0' in metrics


def test_references_across_sources(client: Any, backends: dict[str, RecordedBackend]) -> None:
    engine_id = backends["local"].listing[0]["Id"]
    name = backends["local"].listing[0]["Names"][0].lstrip("/")
    local = client.get(f"/api/containers/{engine_id}").get_json()
    assert local["container"]["id"] == engine_id and local["container"]["source"] == "local"
    edge = client.get(f"/api/containers/edge-1:{engine_id[:8]}").get_json()
    assert edge["container"]["id"] == f"edge-1:{engine_id}" and edge["container"]["source"] == "edge-1"
    assert {f["source"] for f in edge["findings"]} <= {"edge-1"}
    by_name = client.get(f"/api/containers/pod:{name}").get_json()
    assert by_name["container"]["source"] == "pod"
    ambiguous = client.get(f"/api/containers/{name}")
    assert ambiguous.status_code == 409
    assert sorted(ambiguous.get_json()["matches"]) == sorted(f"{s}:{name}" for s in NAMES)
    assert client.get("/api/containers/edge-1:ffffffffff").status_code == 404


def test_metrics_carry_the_source(client: Any, backends: dict[str, RecordedBackend]) -> None:
    backends["edge-1"].down = True
    text = client.get("/metrics").get_data(as_text=True)
    assert 'inventory_backend_up{backend="docker"} 1.0' in text
    assert 'inventory_source_up{source="edge-1",type="docker"} 0.0' in text
    assert 'inventory_source_up{source="pod",type="podman"} 1.0' in text
    assert 'inventory_containers{source="pod",state="running"} 2.0' in text
    assert 'source="edge-1",state=' not in text  # no numbers for a source we cannot see


def test_history_keeps_a_source_that_is_down_instead_of_recording_removals(
    backends: dict[str, RecordedBackend], tmp_path: Any, clock: Clock
) -> None:
    from inventory.history import db
    from inventory.recorder.loop import Recorder
    from inventory.recorder.store import HistoryStore

    url = f"sqlite:///{tmp_path / 'history.db'}"
    db.upgrade(db.make_engine(url))
    live = timings(CACHE_TTL="0")
    configs = {n: SourceConfig(name=n, kind="docker", timeout=1.0, url="unix:///x") for n in backends}
    sources = [Source(configs[n], b, make_live_state(b, configs[n], live)) for n, b in backends.items()]
    service = InventoryService(sources, WaiverPolicy(), stale_grace=15.0, ping_timeout=1.0)
    rec = Recorder(service, HistoryStore(db.make_engine(url)), 30)
    first = rec.cycle()
    assert {c.source for c in first if c.kind == "appeared"} == set(NAMES)
    backends["edge-1"].down = True
    assert [c for c in rec.cycle() if c.kind == "disappeared"] == []  # stale: its last good state is seen
    assert {s.name: s.status for s in service.sources()}["edge-1"] == "stale"
    clock.advance(16)  # past the grace period: unavailable, its last recorded state is kept
    assert {s.name: s.status for s in service.sources()}["edge-1"] == "unavailable"
    assert [c for c in rec.cycle() if c.kind == "disappeared"] == []
    gone = backends["pod"].listing.pop()  # a real removal on a healthy source is still recorded
    removed = [(c.source, c.container_id) for c in rec.cycle() if c.kind == "disappeared"]
    assert removed == [("pod", f"pod:{gone['Id']}")]
    backends["edge-1"].down = False
    assert [c for c in rec.cycle() if c.kind in ("appeared", "disappeared")] == []
