"""The live state's waits and selections, exactly (make mutation: docs/MUTATION.md): how long a waiter waits, when
it returns, which containers a listing selects and what one engine event does to the snapshot."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from conftest import LOCAL, RecordedBackend, timings
from inventory import metrics
from inventory.live import DockerLiveState, PolledLiveState, SnapshotStore
from inventory.model import Container, ContainerEvent


class ClosableBackend(RecordedBackend):
    def get_container(self, container_id: str) -> Container | None:
        found = [c for c in self.list_containers(True) if c.id == container_id]
        return found[0] if found else None

    def close_events(self) -> None:
        pass


def listed(backend: RecordedBackend) -> list[Container]:
    return sorted(backend.list_containers(True), key=lambda c: c.id)


def test_select_keeps_running_containers_unless_stopped_ones_are_asked_for() -> None:
    store = SnapshotStore()
    every = listed(RecordedBackend())
    assert {c.state for c in every} >= {"running"} and {c.state for c in every} - {"running"}, "fixture: mixed states"
    snap = store.publish(containers=tuple(every), details={}, synced=True)
    assert snap.select(True) == every
    assert snap.select(False) == [c for c in every if c.state == "running"]


def test_a_waiter_returns_at_once_when_the_version_is_already_newer() -> None:
    store = SnapshotStore()
    store.publish(synced=True, error=None)
    start = time.monotonic()
    assert store.wait(0, timeout=5) == 1
    assert time.monotonic() - start < 1


def test_a_waiter_with_no_time_left_does_not_wait() -> None:
    store = SnapshotStore()
    start = time.monotonic()
    assert store.wait(0, timeout=-3) == 0
    assert store.wait(0, timeout=0) == 0
    assert time.monotonic() - start < 0.5


@pytest.mark.timeout(20)
def test_a_waiter_wakes_up_on_a_publish() -> None:
    store = SnapshotStore()
    threading.Timer(0.2, lambda: store.publish(synced=True, error=None)).start()
    start = time.monotonic()
    assert store.wait(0, timeout=8) == 1
    assert time.monotonic() - start < 4


def polled(ttl: str) -> tuple[PolledLiveState, RecordedBackend]:
    backend = RecordedBackend()
    return PolledLiveState(backend, LOCAL, timings(CACHE_TTL=ttl)), backend  # type: ignore[arg-type]


@pytest.mark.timeout(20)
def test_polled_wait_returns_at_once_on_a_newer_version() -> None:
    state, _ = polled("0.05")
    start = time.monotonic()
    assert state.wait_for_change(0, timeout=5) == 1
    assert time.monotonic() - start < 1


@pytest.mark.timeout(20)
def test_polled_wait_waits_the_whole_timeout_when_nothing_changes() -> None:
    state, _ = polled("0.05")
    version = state.snapshot().version
    start = time.monotonic()
    assert state.wait_for_change(version, timeout=1.2) == version
    assert 1.2 <= time.monotonic() - start < 4


@pytest.mark.timeout(20)
def test_polled_wait_notices_a_change_within_a_short_poll() -> None:
    state, backend = polled("0.05")
    version = state.snapshot().version
    gone = backend.listing[0]["Id"]
    threading.Timer(0.1, lambda: backend.listing.pop(0)).start()
    start = time.monotonic()
    assert state.wait_for_change(version, timeout=6) == version + 1
    assert time.monotonic() - start < 1.0
    assert gone not in {c.id for c in state.snapshot().containers}


def docker_state() -> tuple[DockerLiveState, ClosableBackend]:
    backend = ClosableBackend()
    state = DockerLiveState(backend, LOCAL, timings())
    state.resync()
    return state, backend


def events(action: str) -> float:
    return metrics.LIVE_EVENTS.labels(action)._value.get()


def test_an_event_counts_by_action_and_re_reads_its_container() -> None:
    state, backend = docker_state()
    before = state._store.current()
    cid = next(i["Id"] for i in backend.listing if i["State"] == "running")
    first = before.by_id[cid]
    backend.listing = [dict(i, State="exited", Status="Exited (0) 1 second ago") if i["Id"] == cid else i
                       for i in backend.listing]  # fmt: skip
    died, started = events("die"), events("start")
    after = state.apply(ContainerEvent(id=cid, action="die"))
    assert events("die") == died + 1 and events("start") == started
    assert after.version == before.version + 1
    changed = after.by_id[cid]
    assert changed.state == "exited"
    assert dataclasses.replace(changed, state=first.state, status=first.status, health=first.health) == first


def test_destroy_removes_the_container_without_asking_the_engine() -> None:
    state, backend = docker_state()
    cid = state._store.current().containers[0].id
    asked = dict(backend.calls)
    after = state.apply(ContainerEvent(id=cid, action="destroy"))
    assert cid not in after.by_id and cid not in after.details
    assert backend.calls == asked
    assert [c.id for c in after.containers] == sorted(c.id for c in after.containers)


def test_an_event_for_a_container_the_engine_no_longer_has_removes_it() -> None:
    state, backend = docker_state()
    cid = backend.listing[0]["Id"]
    backend.listing.pop(0)
    after = state.apply(ContainerEvent(id=cid, action="die"))
    assert cid not in after.by_id and cid not in after.details


def test_a_container_listed_but_gone_before_its_inspect_is_removed() -> None:
    state, backend = docker_state()
    cid = backend.listing[0]["Id"]
    backend.inspects.pop(cid, None)
    backend.listing = [dict(i, Id="0" * 64) if i["Id"] == cid else i for i in backend.listing]  # inspect: NotFound
    backend.get_container = lambda _id: state._store.current().by_id[cid]  # type: ignore[method-assign]
    after = state.apply(ContainerEvent(id=cid, action="restart"))
    assert cid not in after.by_id and cid not in after.details


@pytest.mark.parametrize("action", ["destroy", "die"])
def test_an_event_for_a_container_never_seen_changes_nothing(action: str) -> None:
    state, _ = docker_state()
    before = state._store.current()
    after = state.apply(ContainerEvent(id="f" * 64, action=action))
    assert after == before and after.version == before.version
