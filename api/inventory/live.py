"""Live inventory state: the containers and their details, kept in memory and versioned.

Listings and posture are answered from a ``Snapshot`` instead of asking the engine per request.
One ``LiveState`` per backend (per source), each process has its own (gunicorn workers start
theirs after the fork, the recorder process its own):

* ``DockerLiveState``: a background thread follows the engine's event stream
  (``GET /events``, container events only) and re-reads one container (list entry + inspect)
  per lifecycle event; a full resync (one list call, inspects only for what changed) runs on
  every (re)connect and every ``LIVE_RESYNC_INTERVAL`` seconds. A broken stream (engine or socket
  proxy restart, or one engine read past its deadline) marks the state unsynced, reconnects with
  backoff and resyncs. An unsynced state keeps its last good content and ``lost_at``: the fleet serves
  it, marked stale, for ``LIVE_STALE_GRACE`` seconds (see ``fleet.sources.status_of``).
* ``KubernetesLiveState``: the backend's pod informers (list + watch) are the state; a snapshot
  is rebuilt from them when their generation changes.
* ``PolledLiveState``: for backends without an event stream: a full resync when the snapshot is
  older than ``CACHE_TTL`` (single-flight, under the engine deadline).

Every change publishes a new immutable ``Snapshot`` with ``version + 1``; ``wait_for_change``
blocks until the version moves (the history recorder's loop). Versions are per process: compare
content, not versions, across processes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol

from . import metrics
from .backends.base import Backend
from .cache import TTLCache
from .fleet.config import LiveTimings, SourceConfig
from .model import BackendUnavailable, Container, ContainerDetail, ContainerEvent, NotFound

log = logging.getLogger("inventory.live")

NOT_SYNCED_YET = "inventory state not synced yet"
MIN_BACKOFF, MAX_BACKOFF = 0.1, 5.0
# Engine calls of the background thread (resync, per-event reads) may take this long: no request waits on
# them, and a busy engine answering slowly is not an outage (a closed stream is noticed at once anyway).
LIVE_CALL_TIMEOUT = 10.0
DEADLINE_SLACK = 0.2  # on top of the engine timeout for one whole bounded call (DNS, connect, read)


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of a backend's containers. Immutable; a change is a new snapshot."""

    version: int
    containers: tuple[Container, ...]  # every container, stopped ones included, sorted by id
    details: Mapping[str, ContainerDetail]  # security detail by container id
    synced: bool  # False before the first sync and while the event stream is broken
    last_sync: float | None  # time.time() of the last completed full resync
    error: str | None = None  # why the state is not synced
    lost_at: float | None = None  # time.time() the state stopped being synced (set by SnapshotStore.publish)
    by_id: Mapping[str, Container] = field(default_factory=dict, compare=False, repr=False)

    def select(self, include_stopped: bool) -> list[Container]:
        return list(self.containers) if include_stopped else [c for c in self.containers if c.state == "running"]


EMPTY = Snapshot(0, (), MappingProxyType({}), False, None, NOT_SYNCED_YET)


class LiveState(Protocol):
    backend: Backend
    # True when snapshot() only reads memory (event stream, informer): readers need no deadline for it.
    in_memory: bool

    def start(self) -> None:
        """Start following the backend (idempotent; safe to call again after a fork)."""

    def stop(self) -> None:
        """Stop the background work (tests, shutdown)."""

    def snapshot(self) -> Snapshot:
        """The current snapshot, synced or not; never calls the engine for a Docker/Kubernetes state."""

    def wait_for_change(self, after_version: int, timeout: float) -> int:
        """Block until the version is greater than ``after_version`` or ``timeout`` passes; return the version."""


class SnapshotStore:
    """Holds the current snapshot; publishing content that differs bumps the version and wakes waiters."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._snap = EMPTY

    def current(self) -> Snapshot:
        return self._snap

    def publish(self, **changes: Any) -> Snapshot:
        with self._cond:
            if "synced" in changes:  # when the state was lost: its last good content is kept, aging from then on
                lost = None if changes["synced"] else (self._snap.lost_at if not self._snap.synced else time.time())
                changes.setdefault("lost_at", lost)
            new = replace(self._snap, **changes)
            if new == replace(self._snap, last_sync=new.last_sync):
                self._snap = new  # only the sync time moved: same content, same version
                return new
            containers = new.containers
            self._snap = replace(
                new,
                version=self._snap.version + 1,
                details=MappingProxyType(dict(new.details)),
                by_id=MappingProxyType({c.id: c for c in containers}),
            )
            metrics.LIVE_VERSION_CHANGES.inc()
            self._cond.notify_all()
            return self._snap

    def wait(self, after_version: int, timeout: float) -> int:
        with self._cond:
            self._cond.wait_for(lambda: self._snap.version > after_version, timeout=max(0.0, timeout))
            return self._snap.version


class EngineState:
    """Shared resync logic for engine backends: one list call, inspects only for new or changed containers."""

    def __init__(self, backend: Backend, source: SourceConfig, timings: LiveTimings) -> None:
        self.backend = backend
        self.source = source
        self.timings = timings
        self._store = SnapshotStore()
        self._inspect_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="live-inspect")

    def _inspect_or_none(self, container_id: str) -> ContainerDetail | None:
        try:
            return self.backend.inspect(container_id)
        except NotFound:
            return None  # removed between list and inspect

    def resync(self) -> Snapshot:
        current = self._store.current()
        listed = sorted(self.backend.list_containers(True), key=lambda c: c.id)
        metrics.LIVE_RESYNCS.inc()  # right after its one list call, so the two counters move together
        keep = {c.id: current.details[c.id] for c in listed if current.by_id.get(c.id) == c and c.id in current.details}
        todo = [c.id for c in listed if c.id not in keep]
        fetched = dict(zip(todo, self._inspect_pool.map(self._inspect_or_none, todo), strict=True))
        details = {**keep, **{cid: d for cid, d in fetched.items() if d is not None}}
        return self._store.publish(
            containers=tuple(c for c in listed if c.id in details),
            details=details,
            synced=True,
            error=None,
            last_sync=time.time(),
        )

    def _lost(self, reason: str) -> None:
        if self._store.current().synced or self._store.current().error != reason:
            log.warning("live state lost its engine, resyncing", extra={"reason": reason})
        self._store.publish(synced=False, error=reason)


class PolledLiveState(EngineState):
    """For backends without an event stream: a bounded full resync when the snapshot is older than CACHE_TTL."""

    in_memory = False  # snapshot() may call the engine

    def __init__(self, backend: Backend, source: SourceConfig, timings: LiveTimings) -> None:
        super().__init__(backend, source, timings)
        self._fresh: TTLCache[Snapshot] = TTLCache("state", timings.cache_ttl)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="live-poll")
        self._deadline = source.timeout + DEADLINE_SLACK

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def _bounded_resync(self) -> Snapshot:
        future = self._pool.submit(self.resync)
        try:
            return future.result(timeout=self._deadline)
        except FutureTimeout:
            raise BackendUnavailable(f"backend did not answer within {self._deadline:.1f}s") from None

    def snapshot(self) -> Snapshot:
        try:
            return self._fresh.get("state", self._bounded_resync)
        except BackendUnavailable as exc:
            self._lost(str(exc))
            return self._store.current()

    def wait_for_change(self, after_version: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            version = self.snapshot().version
            remaining = deadline - time.monotonic()
            if version > after_version or remaining <= 0:
                return version
            time.sleep(min(remaining, max(self.timings.cache_ttl, 0.2)))


class DockerLiveState(EngineState):
    """Event stream + periodic resync in one background thread per process."""

    backend: Any  # DockerBackend: events(), get_container(), close_events() beyond the Backend protocol
    in_memory = True

    def __init__(self, backend: Any, source: SourceConfig, timings: LiveTimings) -> None:
        super().__init__(backend, source, timings)
        backend.call_timeout = max(source.timeout, LIVE_CALL_TIMEOUT)
        self._interval = timings.resync_interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def start(self) -> None:
        with self._lock:
            # A thread started before a fork does not exist in the child: start one per process.
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._stop.clear()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="live-docker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.backend.close_events()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def snapshot(self) -> Snapshot:
        self.start()
        return self._store.current()

    def wait_for_change(self, after_version: int, timeout: float) -> int:
        self.start()
        return self._store.wait(after_version, timeout)

    def apply(self, event: ContainerEvent) -> Snapshot:
        """Re-read one container after a lifecycle event: its list entry and its inspect answer."""
        metrics.LIVE_EVENTS.labels(event.action).inc()
        current = self._store.current()
        entry = None if event.action == "destroy" else self.backend.get_container(event.id)
        detail = self._inspect_or_none(event.id) if entry is not None else None
        containers = dict(current.by_id)
        details = dict(current.details)
        if entry is None or detail is None:
            containers.pop(event.id, None)
            details.pop(event.id, None)
        else:
            containers[event.id] = entry
            details[event.id] = detail
        return self._store.publish(containers=tuple(sorted(containers.values(), key=lambda c: c.id)), details=details)

    def _run(self) -> None:
        from .backends.docker_events import StreamIdle

        backoff = MIN_BACKOFF
        while not self._stop.is_set():
            try:
                # Subscribe first (replaying the last second), then list: nothing falls between the two.
                stream = self.backend.events(since=time.time() - 1.0, idle_timeout=self._interval)
                self.resync()
                backoff = MIN_BACKOFF
                next_resync = time.monotonic() + self._interval
                for event in stream:
                    if self._stop.is_set():
                        return
                    self.apply(event)
                    if time.monotonic() >= next_resync:
                        self.resync()
                        next_resync = time.monotonic() + self._interval
            except StreamIdle:
                continue  # a quiet stream: reconnect and resync, still synced meanwhile
            except BackendUnavailable as exc:
                if self._stop.is_set():
                    return  # stop() cut the stream on purpose
                self._lost(str(exc))
            except Exception as exc:  # never let the thread die: log, resync
                log.exception("live state failed, resyncing")
                self._lost(f"live state error: {exc.__class__.__name__}")
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, MAX_BACKOFF)


class KubernetesLiveState:
    """The Kubernetes backend's pod informers are the live state; snapshots are rebuilt when they change."""

    in_memory = True  # the informers' caches; the watch runs in the backend's own threads

    def __init__(self, backend: Any, source: SourceConfig, timings: LiveTimings) -> None:
        self.backend = backend
        self.source = source
        self.timings = timings
        self._store = SnapshotStore()
        self._key: object = None
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        backend.add_listener(self._dirty.set)

    def start(self) -> None:
        try:
            self.backend.sync_state()
        except BackendUnavailable:
            pass  # reported by snapshot()

    def stop(self) -> None:
        self.backend.close()

    def snapshot(self) -> Snapshot:
        with self._lock:
            try:
                key, synced, error = self.backend.sync_state()
            except BackendUnavailable as exc:
                key, synced, error = None, False, str(exc)
            if (key, synced) == self._key:
                return self._store.current()
            if not synced:
                snap = self._store.publish(synced=False, error=error or NOT_SYNCED_YET)
            else:
                listed = sorted(self.backend.list_containers(True), key=lambda c: c.id)
                details = {c.id: self.backend.inspect(c.id) for c in listed}
                snap = self._store.publish(
                    containers=tuple(listed), details=details, synced=True, error=None, last_sync=time.time()
                )
            self._key = (key, synced)
            return snap

    def wait_for_change(self, after_version: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            version = self.snapshot().version
            remaining = deadline - time.monotonic()
            if version > after_version or remaining <= 0:
                return version
            self._dirty.wait(min(remaining, 1.0))
            self._dirty.clear()


def make_live_state(backend: Backend, source: SourceConfig, timings: LiveTimings) -> LiveState:
    """The live state that fits the backend: event stream, informer, or polling."""
    if callable(getattr(backend, "events", None)):
        return DockerLiveState(backend, source, timings)
    if callable(getattr(backend, "sync_state", None)):
        return KubernetesLiveState(backend, source, timings)
    return PolledLiveState(backend, source, timings)


__all__: list[str] = [
    "NOT_SYNCED_YET",
    "DockerLiveState",
    "KubernetesLiveState",
    "LiveState",
    "LiveTimings",
    "PolledLiveState",
    "Snapshot",
    "SnapshotStore",
    "make_live_state",
]
