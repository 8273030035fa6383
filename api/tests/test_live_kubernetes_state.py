"""The Kubernetes live state over its backend's informer boundary (sync_state, list, inspect, listeners), exactly:
when a snapshot is rebuilt, what an unreachable cluster looks like, and how long a waiter waits (on a fake
monotonic clock: the waits are recorded, not slept). The real informers run in test_kubernetes_backend.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import LOCAL, RecordedBackend, timings
from inventory import live
from inventory.live import NOT_SYNCED_YET, KubernetesLiveState, PolledLiveState
from inventory.model import BackendUnavailable


class Informed(RecordedBackend):
    """The Kubernetes backend's contract with its live state, with recorded pods."""

    name = "kubernetes"

    def __init__(self) -> None:
        super().__init__()
        self.key: tuple[int, ...] = (1,)
        self.healthy, self.error = True, None
        self.unreachable: str | None = None
        self.listeners: list[Callable[[], None]] = []
        self.closed = 0

    def add_listener(self, callback: Callable[[], None]) -> None:
        self.listeners.append(callback)

    def sync_state(self) -> tuple[tuple[int, ...], bool, str | None]:
        if self.unreachable:
            raise BackendUnavailable(self.unreachable)
        return self.key, self.healthy, self.error

    def close(self) -> None:
        self.closed += 1


class Clock:
    """time.monotonic/time.time for inventory.live, moved only by the recorded waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float | None] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def wait(self, seconds: float | None) -> bool:
        self.waits.append(seconds)
        assert len(self.waits) < 10, f"still waiting: {self.waits}"
        self.now += seconds or 0.0
        return False

    def sleep(self, seconds: float) -> None:
        self.wait(seconds)

    def clear(self) -> None:
        pass


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(live, "time", c)
    return c


def kube() -> tuple[KubernetesLiveState, Informed]:
    backend = Informed()
    return KubernetesLiveState(backend, LOCAL, timings()), backend


def test_a_snapshot_is_rebuilt_only_when_the_informers_moved() -> None:
    state, backend = kube()
    first = state.snapshot()
    assert first.synced and first.error is None and first.version == 1
    assert [c.id for c in first.containers] == sorted(i["Id"] for i in backend.listing)
    assert set(first.details) == {c.id for c in first.containers}
    lists = backend.calls["list"]
    assert state.snapshot() is first and backend.calls["list"] == lists  # same generation: no list call
    backend.key = (2,)
    gone = backend.listing.pop(0)["Id"]
    second = state.snapshot()
    assert backend.calls["list"] == lists + 1 and second.version == 2
    assert [c.id for c in second.containers] == [c.id for c in first.containers if c.id != gone]


def test_an_unreachable_cluster_is_an_unsynced_state_that_says_why() -> None:
    state, backend = kube()
    backend.unreachable = "kubernetes API unreachable: ConnectionError"
    snap = state.snapshot()
    assert snap.synced is False and snap.containers == ()
    assert snap.error == "kubernetes API unreachable: ConnectionError"
    assert backend.calls["list"] == 0


def test_a_cluster_back_after_an_outage_is_synced_without_the_old_error(clock: Clock) -> None:
    state, backend = kube()
    good = state.snapshot()
    clock.now += 30
    backend.unreachable = "informer watch failed: 410 Gone"
    lost = state.snapshot()
    assert (lost.synced, lost.error, lost.lost_at) == (False, "informer watch failed: 410 Gone", 1030.0)
    assert lost.containers == good.containers  # the last good content, aging
    backend.unreachable = None
    back = state.snapshot()
    assert (back.synced, back.error, back.lost_at, back.last_sync) == (True, None, None, 1030.0)


def test_an_unhealthy_informer_without_a_reason_says_not_synced_yet() -> None:
    state, backend = kube()
    backend.healthy = False
    snap = state.snapshot()
    assert snap.synced is False and snap.error == NOT_SYNCED_YET and backend.calls["list"] == 0
    backend.error = "pods forbidden"
    backend.key = (2,)
    assert state.snapshot().error == "pods forbidden"


def test_start_ignores_an_unreachable_cluster_and_stop_closes_the_informers() -> None:
    state, backend = kube()
    backend.unreachable = "kubernetes API unreachable"
    state.start()
    state.stop()
    assert backend.closed == 1


def test_a_waiter_returns_at_once_on_a_newer_version(clock: Clock) -> None:
    state, _ = kube()
    state._dirty = clock  # type: ignore[assignment]  # the wait between two looks, recorded
    assert state.wait_for_change(0, timeout=5) == 1
    assert clock.waits == []


def test_a_waiter_looks_again_every_second_until_the_timeout(clock: Clock) -> None:
    state, _ = kube()
    state._dirty = clock  # type: ignore[assignment]  # the wait between two looks, recorded
    version = state.snapshot().version
    assert state.wait_for_change(version, timeout=2.5) == version
    assert clock.waits == [1.0, 1.0, 0.5]


def test_a_waiter_with_no_time_left_does_not_wait(clock: Clock) -> None:
    state, _ = kube()
    state._dirty = clock  # type: ignore[assignment]  # the wait between two looks, recorded
    version = state.snapshot().version
    assert state.wait_for_change(version, timeout=0) == version
    assert clock.waits == []


def test_a_listener_call_wakes_the_waiter_to_a_new_snapshot(clock: Clock) -> None:
    state, backend = kube()
    version = state.snapshot().version
    (listener,) = backend.listeners

    def informer_moved(seconds: float | None) -> bool:
        clock.waits.append(seconds)
        backend.key = (2,)
        backend.listing.pop(0)
        listener()
        return True

    state._dirty.wait = informer_moved  # type: ignore[method-assign]
    assert state.wait_for_change(version, timeout=30) == version + 1
    assert clock.waits == [1.0] and state._dirty.is_set() is False


def test_polled_waiter_with_no_time_left_does_not_sleep(clock: Clock) -> None:
    state = PolledLiveState(RecordedBackend(), LOCAL, timings(CACHE_TTL="0.05"))  # type: ignore[arg-type]
    version = state.snapshot().version
    assert state.wait_for_change(version, timeout=0) == version
    assert state.wait_for_change(version, timeout=0.5) == version
    assert clock.waits == pytest.approx([0.2, 0.2, 0.1])  # at least 0.2 s between two listings, never past the timeout
