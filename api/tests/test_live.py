"""The live state: event-driven updates, resync after a broken stream, readiness, change waits.

The engine is stubbed at the backend boundary (recorded list/inspect answers plus an event queue);
tests/integration/test_live.py runs the same code against the real engine through the socket proxy.
"""

from __future__ import annotations

import json
import queue
import re
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from conftest import LOCAL, Clock, RecordedBackend, make_app, service_for, timings
from inventory.backends.docker import container_from_list_entry, stable_status
from inventory.backends.docker_events import StreamIdle, event_from_json
from inventory.live import DockerLiveState, PolledLiveState, SnapshotStore, make_live_state
from inventory.model import BackendUnavailable, Container, ContainerEvent
from inventory.openapi import spec

BREAK = object()


class EventBackend(RecordedBackend):
    """RecordedBackend plus an engine event stream fed from a queue (BREAK ends it like a proxy restart)."""

    def __init__(self) -> None:
        super().__init__()
        self.events_q: queue.Queue[Any] = queue.Queue()
        self.streams = 0
        self.refuse_streams = False

    def get_container(self, container_id: str) -> Container | None:
        self._count("list_one")
        found = [container_from_list_entry(i) for i in self.listing if i["Id"] == container_id]
        return found[0] if found else None

    def events(self, since: float, idle_timeout: float) -> Iterator[ContainerEvent]:
        if self.refuse_streams or self.down:
            raise BackendUnavailable("docker event stream unreachable: ConnectionError")
        self.streams += 1

        def gen() -> Iterator[ContainerEvent]:
            while True:
                try:
                    item = self.events_q.get(timeout=idle_timeout)
                except queue.Empty:
                    raise StreamIdle() from None
                if item is BREAK:
                    raise BackendUnavailable("docker event stream closed by the engine")
                yield item

        return gen()

    def close_events(self) -> None:
        self.events_q.put(BREAK)

    def _count(self, op: str) -> None:
        self.calls.setdefault(op, 0)
        super()._count(op)


def _wait(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@pytest.fixture()
def events_backend() -> Iterator[EventBackend]:
    yield EventBackend()


@pytest.fixture()
def live(events_backend: EventBackend) -> Iterator[DockerLiveState]:
    state = make_live_state(events_backend, LOCAL, timings(LIVE_RESYNC_INTERVAL="30"))
    assert isinstance(state, DockerLiveState)
    state.start()
    _wait(lambda: state.snapshot().synced)
    yield state
    state.stop()


def _new_entry(backend: RecordedBackend, cid: str, name: str, state: str = "running") -> dict[str, Any]:
    entry = dict(backend.listing[0], Id=cid, Names=[f"/{name}"], State=state, Status="Up 2 seconds")
    backend.listing.append(entry)
    return entry


def test_initial_sync_lists_once_and_inspects_everything(live: DockerLiveState, events_backend: EventBackend) -> None:
    snap = live.snapshot()
    assert snap.synced and snap.error is None and snap.last_sync
    assert [c.id for c in snap.containers] == sorted(i["Id"] for i in events_backend.listing)
    assert set(snap.details) == set(snap.by_id) and events_backend.calls["list"] == 1
    assert events_backend.calls["inspect"] == len(events_backend.listing)


def test_events_update_the_state_without_a_full_list(live: DockerLiveState, events_backend: EventBackend) -> None:
    before = live.snapshot().version
    cid = "c" * 64
    entry = _new_entry(events_backend, cid, "fresh")
    events_backend.events_q.put(ContainerEvent(cid, "start"))
    assert live.wait_for_change(before, 3) > before
    assert live.snapshot().by_id[cid].name == "fresh" and cid in live.snapshot().details
    entry["Names"] = ["/renamed"]
    v = live.snapshot().version
    events_backend.events_q.put(ContainerEvent(cid, "rename"))
    live.wait_for_change(v, 3)
    assert live.snapshot().by_id[cid].name == "renamed"
    events_backend.listing.remove(entry)
    v = live.snapshot().version
    events_backend.events_q.put(ContainerEvent(cid, "destroy"))
    live.wait_for_change(v, 3)
    assert cid not in live.snapshot().by_id and cid not in live.snapshot().details
    assert events_backend.calls["list"] == 1  # no full list per event, only the per-container reads


def test_an_event_that_changes_nothing_keeps_the_version(live: DockerLiveState, events_backend: EventBackend) -> None:
    before = live.snapshot().version
    reads = events_backend.calls.get("list_one", 0)
    events_backend.events_q.put(ContainerEvent(events_backend.listing[0]["Id"], "health_status"))
    # Events are applied in order: once the next one (a new container) shows, the first has been applied too.
    cid = "f" * 64
    _new_entry(events_backend, cid, "after-the-no-op")
    events_backend.events_q.put(ContainerEvent(cid, "start"))
    _wait(lambda: cid in live.snapshot().by_id)
    assert events_backend.calls["list_one"] == reads + 2  # both events were read back from the engine
    assert live.snapshot().version == before + 1  # only the new container changed the state


def test_broken_stream_marks_unsynced_and_the_resync_catches_up(
    live: DockerLiveState, events_backend: EventBackend
) -> None:
    events_backend.refuse_streams = True
    events_backend.events_q.put(BREAK)  # the socket proxy restarts
    _wait(lambda: not live.snapshot().synced)
    assert "closed" in (live.snapshot().error or "") or "unreachable" in (live.snapshot().error or "")
    # Meanwhile a container appears and another one goes, with no event the state could see.
    _new_entry(events_backend, "d" * 64, "while-away")
    gone = events_backend.listing.pop(0)["Id"]
    events_backend.refuse_streams = False
    _wait(lambda: live.snapshot().synced)
    snap = live.snapshot()
    assert "d" * 64 in snap.by_id and gone not in snap.by_id and events_backend.streams >= 2


def test_without_a_grace_period_the_service_503s_while_unsynced(events_backend: EventBackend) -> None:
    app = make_app(events_backend, ENGINE_TIMEOUT="0.5", LIVE_STALE_GRACE="0")
    client = app.test_client()
    assert client.get("/readyz").status_code == 200  # waits for the first sync
    calls = dict(events_backend.calls)
    for _ in range(20):
        assert client.get("/api/containers?all=true").status_code == 200
        assert client.get("/api/posture").status_code == 200
    assert events_backend.calls == calls  # no engine call per request
    events_backend.refuse_streams = True
    events_backend.events_q.put(BREAK)
    _wait(lambda: client.get("/readyz").status_code == 503)
    assert client.get("/api/containers").status_code == 503
    events_backend.refuse_streams = False
    _wait(lambda: client.get("/readyz").status_code == 200)
    app.extensions["inventory"].live.stop()


def _valid(body: Any, schema_name: str) -> Any:
    doc = spec("test")
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    return body


def _break(events_backend: EventBackend) -> None:
    """The socket proxy restarts: the stream ends and reconnects are refused until _recover."""
    events_backend.refuse_streams = True
    events_backend.events_q.put(BREAK)


def _metric(text: str, name: str, labels: str = "") -> float | None:
    found = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def test_a_hiccup_serves_the_last_good_state_marked_stale_until_the_grace_period_ends(
    events_backend: EventBackend, clock: Clock
) -> None:
    app = make_app(events_backend, ENGINE_TIMEOUT="0.5", LIVE_STALE_GRACE="30")
    client = app.test_client()
    ready = client.get("/readyz").get_json()
    assert ready["synced"] is True and ready["stale"] is False
    good = client.get("/api/containers?all=true")
    assert good.get_json()["stale"] is False and good.get_json()["total"] == 3
    container_id = good.get_json()["items"][0]["id"]

    # A short hiccup: served from the last good state, 200, marked stale (not partial); recovery clears it.
    _break(events_backend)
    _wait(lambda: client.get("/api/sources").get_json()["stale"])
    stale = client.get("/api/containers?all=true")
    body = _valid(stale.get_json(), "ContainerList")
    assert stale.status_code == 200 and body["stale"] is True and body["partial"] is False
    assert body["items"] == good.get_json()["items"] and stale.headers["ETag"] != good.headers["ETag"]
    (brief,) = body["sources"]
    assert brief["status"] == "stale" and brief["containers"] == 3 and brief["error"]
    posture = client.get("/api/posture")
    assert posture.status_code == 200 and _valid(posture.get_json(), "Posture")["stale"] is True
    assert posture.get_json()["partial"] is False and posture.get_json()["containers"]
    assert client.get(f"/api/containers/{container_id}").status_code == 200
    sources = _valid(client.get("/api/sources").get_json(), "Sources")
    (local,) = sources["sources"]
    assert local["status"] == "stale" and local["last_sync"] and local["error"] and sources["available"] == 1
    ready_resp = client.get("/readyz")
    ready = _valid(ready_resp.get_json(), "Ready")
    assert ready_resp.status_code == 200 and ready["synced"] is False and ready["stale"] is True
    metrics = client.get("/metrics").get_data(as_text=True)
    assert _metric(metrics, "inventory_source_up", '{source="local",type="docker"}') == 0.0  # not synced ...
    assert _metric(metrics, "inventory_backend_up", '{backend="docker"}') == 1.0  # ... but answering
    assert _metric(metrics, "inventory_containers", '{source="local",state="running"}') == 2.0
    events_backend.refuse_streams = False
    _wait(lambda: client.get("/readyz").get_json()["synced"], timeout=10)
    again = client.get("/api/containers?all=true").get_json()
    assert again["stale"] is False and client.get("/readyz").get_json()["stale"] is False
    assert client.get("/api/sources").get_json()["sources"][0]["status"] == "ok"

    # A longer outage: stale first, unavailable (503) once the grace period ends; no new snapshot needed.
    _break(events_backend)
    _wait(lambda: client.get("/api/containers").get_json().get("stale") is True)
    clock.advance(31)
    gone = client.get("/api/containers")
    assert gone.status_code == 503 and gone.mimetype == "application/problem+json"
    assert client.get("/api/posture").status_code == 503 and client.get("/readyz").status_code == 503
    assert client.get("/api/sources").get_json()["sources"][0]["status"] == "unavailable"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert _metric(metrics, "inventory_backend_up", '{backend="docker"}') == 0.0
    assert _metric(metrics, "inventory_containers", '{source="local",state="running"}') is None
    events_backend.refuse_streams = False
    _wait(lambda: client.get("/readyz").status_code == 200, timeout=10)
    assert client.get("/api/containers").get_json()["stale"] is False
    app.extensions["inventory"].live.stop()


def test_the_store_remembers_when_the_state_was_lost() -> None:
    store = SnapshotStore()
    assert store.publish(synced=False, error="engine down").lost_at is None  # never synced: nothing to serve
    good = store.publish(containers=(), details={}, synced=True, error=None, last_sync=time.time())
    assert good.lost_at is None
    lost = store.publish(synced=False, error="docker event stream closed by the engine")
    assert lost.lost_at is not None and lost.last_sync == good.last_sync
    later = store.publish(synced=False, error="docker event stream unreachable: ConnectionError")
    assert later.lost_at == lost.lost_at  # still the same outage
    assert store.publish(synced=True, error=None, last_sync=time.time()).lost_at is None


def test_periodic_resync_lists_again(events_backend: EventBackend) -> None:
    state = DockerLiveState(events_backend, LOCAL, timings(LIVE_RESYNC_INTERVAL="1"))
    state.start()
    try:
        _wait(lambda: state.snapshot().synced)
        _wait(lambda: events_backend.calls["list"] >= 2, timeout=4)  # idle stream -> reconnect + resync
        assert state.snapshot().synced and events_backend.calls["inspect"] == len(events_backend.listing)
    finally:
        state.stop()


def test_polled_state_for_backends_without_events(backend: RecordedBackend) -> None:
    state = make_live_state(backend, LOCAL, timings(CACHE_TTL="0"))
    assert isinstance(state, PolledLiveState)
    first = state.snapshot()
    assert first.synced and len(first.containers) == 3
    assert state.snapshot().version == first.version  # same content, same version
    backend.listing.pop()
    assert state.wait_for_change(first.version, 1) == first.version + 1
    backend.down = True
    assert not state.snapshot().synced and "unreachable" in (state.snapshot().error or "")


def test_service_waits_for_the_first_sync_only(events_backend: EventBackend) -> None:
    events_backend.delay = 0.2
    svc = service_for(events_backend, ENGINE_TIMEOUT="1.5")
    assert len(svc.containers(include_stopped=True)) == 3  # waited for the first sync
    svc.live.stop()


def test_event_parsing_keeps_lifecycle_only() -> None:
    cid = "a" * 64
    assert event_from_json(f'{{"Type":"container","Action":"start","Actor":{{"ID":"{cid}"}}}}') == ContainerEvent(
        cid, "start"
    )
    health = event_from_json(f'{{"Type":"container","Action":"health_status: healthy","Actor":{{"ID":"{cid}"}}}}')
    assert health == ContainerEvent(cid, "health_status")
    for line in (
        f'{{"Type":"container","Action":"exec_create: sh -c secret","Actor":{{"ID":"{cid}"}}}}',
        f'{{"Type":"container","Action":"attach","Actor":{{"ID":"{cid}"}}}}',
        '{"Type":"network","Action":"connect","Actor":{"ID":"n"}}',
        "not json",
        '{"Type":"container","Action":"start","Actor":{}}',
    ):
        assert event_from_json(line) is None, line


@pytest.mark.parametrize(
    ("raw", "stable"),
    [
        ("Up 5 minutes", "Up"),
        ("Up About an hour (healthy)", "Up (healthy)"),
        ("Up 2 seconds (health: starting)", "Up (health: starting)"),
        ("Up 3 days (Paused)", "Up (Paused)"),
        ("Exited (137) 2 hours ago", "Exited (137)"),
        ("Restarting (1) Less than a second ago", "Restarting (1)"),
        ("Created", "Created"),
    ],
)
def test_status_without_relative_time(raw: str, stable: str) -> None:
    assert stable_status(raw) == stable


def test_etag_and_304_follow_the_state(backend: RecordedBackend) -> None:
    client = make_app(backend).test_client()
    first = client.get("/api/containers?all=true")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('W/"')
    again = client.get("/api/containers?all=true", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == first.headers["Cache-Control"]
    other_query = client.get("/api/containers", headers={"If-None-Match": etag})
    assert other_query.status_code == 200 and other_query.headers["ETag"] != etag
    backend.listing.pop()  # the inventory changes: the old tag no longer matches
    changed = client.get("/api/containers?all=true", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag and changed.get_json()["total"] == 2


def test_etag_is_the_same_in_every_worker_and_ignores_the_client_address(backend: RecordedBackend) -> None:
    one, two = make_app(backend).test_client(), make_app(backend).test_client()
    a = one.get("/api/posture?all=true", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    b = two.get("/api/posture?all=true", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert a.headers["ETag"] == b.headers["ETag"] and a.get_json()["client_ip"] != b.get_json()["client_ip"]
    assert two.get("/api/posture?all=true", headers={"If-None-Match": a.headers["ETag"]}).status_code == 304
    assert two.get("/api/posture", headers={"If-None-Match": a.headers["ETag"]}).status_code == 200


def test_304_needs_auth_first(backend: RecordedBackend, tmp_path: Any) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret")
    client = make_app(backend, API_TOKEN_FILE=str(token)).test_client()
    ok = client.get("/api/containers", headers={"Authorization": "Bearer s3cret"})
    assert ok.headers["Cache-Control"] == "private, no-store"
    anonymous = client.get("/api/containers", headers={"If-None-Match": ok.headers["ETag"]})
    assert anonymous.status_code == 401
    authed = client.get(
        "/api/containers", headers={"Authorization": "Bearer s3cret", "If-None-Match": ok.headers["ETag"]}
    )
    assert authed.status_code == 304 and authed.headers["Cache-Control"] == "private, no-store"


def test_an_unchanged_state_reuses_the_merged_view_and_a_change_rebuilds_it(events_backend: EventBackend) -> None:
    app = make_app(events_backend)
    client = app.test_client()
    svc = app.extensions["inventory"]
    assert client.get("/readyz").status_code == 200
    first = client.get("/api/containers?all=true")
    assert svc.view() is svc.view()  # no merge, no sort, no copy per request
    again = client.get("/api/containers?all=true")
    assert again.get_json()["items"] == first.get_json()["items"] and again.headers["ETag"] == first.headers["ETag"]
    posture, scrape = client.get("/api/posture"), svc.snapshot()
    assert svc.posture() is svc.posture() and svc.snapshot() is scrape  # computed once per state version
    assert client.get("/api/posture").data == posture.data
    before, version = svc.view(), svc.live.snapshot().version
    cid = "e" * 64
    _new_entry(events_backend, cid, "late-comer")
    events_backend.events_q.put(ContainerEvent(cid, "start"))
    svc.live.wait_for_change(version, 3)
    assert svc.view() is not before and cid in svc.view().by_id
    after = client.get("/api/containers?all=true")
    assert cid in [c["id"] for c in after.get_json()["items"]] and after.headers["ETag"] != first.headers["ETag"]
    assert svc.snapshot() is not scrape and cid in [c.id for c in svc.posture(include_stopped=True).containers]
    assert client.get("/api/posture").headers["ETag"] != posture.headers["ETag"]
    svc.live.stop()


def test_without_an_exporter_the_callers_trace_id_reaches_the_log_and_no_span_is_made(
    backend: RecordedBackend, capsys: Any
) -> None:
    from opentelemetry import trace

    seen: list[bool] = []
    app = make_app(backend, LOG_LEVEL="INFO")
    app.before_request(lambda: seen.append(trace.get_current_span().is_recording()))
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    capsys.readouterr()
    resp = app.test_client().get("/api/version", headers={"traceparent": f"00-{trace_id}-{parent}-01"})
    assert resp.status_code == 200 and seen == [False]
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    access = [x for x in lines if x.get("logger") == "inventory.access" and x.get("route") == "/api/version"]
    assert access and access[0]["trace_id"] == trace_id and access[0]["span_id"] == parent
