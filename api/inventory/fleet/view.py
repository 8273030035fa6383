"""The fleet: every source's live snapshot merged into one view, with a per-source status.

* Ids are unique across sources: the default source ``local`` keeps the engine's ids (what ``make up``
  always answered), every other source's ids are ``<source>:<engine id>``. Every container (and the
  container inside its detail) carries ``source``.
* Reading the fleet never waits on a source beyond that source's own deadline (its timeout + slack):
  snapshots are read in parallel, and a source that is not synced (down, slow, stream broken) is
  reported in the status block instead of failing the answer. ``partial`` says that happened.
* A source that lost its engine is served from its last good snapshot, marked ``stale``, for the grace
  period (``LIVE_STALE_GRACE``); the answer is not partial but says ``stale``.
* Merging is cached per source snapshot version, and the merged view per set of snapshots: an unchanged
  fleet costs a request no merge, no sort and no copy. A stale source's status changes with time alone
  (stale -> unavailable when the grace period ends), so a cached view holding one expires then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ..live import NOT_SYNCED_YET, Snapshot
from ..model import AmbiguousReference, BackendUnavailable, Container, ContainerDetail, NotFound
from .config import DEFAULT_SOURCE, SourceConfig
from .sources import Source, SourceStatus, stale_until, status_of

DEADLINE_SLACK = 0.2
SEPARATOR = ":"


def qualify(source: str, engine_id: str) -> str:
    """The API id of a container: bare for the default source, ``source:engine-id`` for every other."""
    return engine_id if source == DEFAULT_SOURCE else f"{source}{SEPARATOR}{engine_id}"


@dataclass(frozen=True)
class FleetView:
    containers: tuple[Container, ...]  # every source's containers (stopped included), sorted by API id
    details: Mapping[str, ContainerDetail]  # by API id
    sources: tuple[SourceStatus, ...]
    by_id: Mapping[str, Container] = field(default_factory=dict, compare=False, repr=False)

    @property
    def version(self) -> tuple[tuple[str, int, str], ...]:
        """Changes whenever any selected source's state or status changes (rendered-page cache key)."""
        return tuple((s.name, s.state_version, s.status) for s in self.sources)

    @property
    def partial(self) -> bool:
        """Some source's containers are missing from this answer."""
        return any(not s.available for s in self.sources)

    @property
    def available(self) -> bool:
        return any(s.available for s in self.sources)

    @property
    def stale(self) -> bool:
        """Some source's containers come from its last good state: it lost its engine moments ago."""
        return any(s.stale for s in self.sources)

    @property
    def synced(self) -> bool:
        """Every source's state is synced with its engine (what /readyz reports besides being able to answer)."""
        return all(s.status == "ok" for s in self.sources)

    def down(self) -> str:
        """The unavailable sources and why, for error details: ``edge-1: docker engine unreachable: ...``."""
        return "; ".join(f"{s.name}: {s.error}" for s in self.sources if not s.available)

    def select(self, include_stopped: bool) -> list[Container]:
        return list(self.containers) if include_stopped else [c for c in self.containers if c.state == "running"]


@dataclass(frozen=True)
class _Qualified:
    version: int
    containers: tuple[Container, ...]
    details: Mapping[str, ContainerDetail]


def _qualify_snapshot(name: str, snap: Snapshot) -> _Qualified:
    containers: list[Container] = []
    details: dict[str, ContainerDetail] = {}
    for c in snap.containers:
        api_id = qualify(name, c.id)
        moved = c if (api_id, name) == (c.id, c.source) else replace(c, id=api_id, source=name)
        containers.append(moved)
        detail = snap.details.get(c.id)
        if detail is not None:
            inner = detail.container
            if (inner.id, inner.source) != (api_id, name):
                detail = replace(detail, container=replace(inner, id=api_id, source=name))
            details[api_id] = detail
    return _Qualified(snap.version, tuple(containers), details)


class Fleet:
    """Reads and merges the sources' live states."""

    def __init__(self, sources: list[Source], stale_grace: float = 0.0) -> None:
        if not sources:
            raise ValueError("a fleet needs at least one source")
        self.sources = sources
        self.stale_grace = stale_grace  # LIVE_STALE_GRACE: seconds a lost source's last good state is served
        self.by_name = {s.name: s for s in sources}
        self._pool = ThreadPoolExecutor(max_workers=min(32, len(sources) * 2), thread_name_prefix="fleet")
        self._qualified: dict[str, _Qualified] = {}
        # Per selection: the snapshots a view was built from, the view, and until when (time.time()) it holds.
        self._views: dict[tuple[str, ...], tuple[tuple[Snapshot | None, ...], FleetView, float]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        for s in self.sources:
            s.live.start()

    def stop(self) -> None:
        for s in self.sources:
            s.live.stop()

    def config(self, name: str) -> SourceConfig:
        return self.by_name[name].config

    @staticmethod
    def _read(source: Source) -> Snapshot:
        """A source's snapshot; right after startup, wait for its first sync up to the source's own timeout."""
        snap = source.live.snapshot()
        deadline = time.monotonic() + source.config.timeout
        while not snap.synced and snap.error == NOT_SYNCED_YET and snap.last_sync is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            source.live.wait_for_change(snap.version, remaining)
            snap = source.live.snapshot()
        return snap

    @staticmethod
    def _ready(source: Source) -> Snapshot | None:
        """The snapshot without a thread hop, when reading it cannot block: an in-memory state past its start."""
        if not getattr(source.live, "in_memory", False):
            return None
        snap = source.live.snapshot()
        starting = not snap.synced and snap.error == NOT_SYNCED_YET and snap.last_sync is None
        return None if starting else snap

    def _snapshots(self, selected: list[Source]) -> list[tuple[Source, Snapshot | None]]:
        started = time.monotonic()
        ready = [(s, self._ready(s)) for s in selected]
        futures = {s.name: self._pool.submit(self._read, s) for s, snap in ready if snap is None}
        out: list[tuple[Source, Snapshot | None]] = []
        for source, snap in ready:
            if snap is not None:
                out.append((source, snap))
                continue
            remaining = started + source.config.timeout + DEADLINE_SLACK - time.monotonic()
            try:
                out.append((source, futures[source.name].result(timeout=max(0.0, remaining))))
            except (FutureTimeout, BackendUnavailable):
                out.append((source, None))
        return out

    def _merge_one(self, source: Source, snap: Snapshot) -> _Qualified:
        with self._lock:
            cached = self._qualified.get(source.name)
        if cached is not None and cached.version == snap.version:
            return cached
        fresh = _qualify_snapshot(source.name, snap)
        with self._lock:
            self._qualified[source.name] = fresh
        return fresh

    def version(self) -> int:
        """Sum of the sources' state versions: grows whenever any source's state changes."""
        return sum(s.live.snapshot().version for s in self.sources)

    def wait_for_change(self, after_version: int, timeout: float) -> int:
        """Until the sum of the sources' state versions exceeds ``after_version`` (or timeout); returns the sum."""
        deadline = time.monotonic() + timeout
        while True:
            total = self.version()
            remaining = deadline - time.monotonic()
            if total > after_version or remaining <= 0:
                return total
            if len(self.sources) == 1:
                self.sources[0].live.wait_for_change(after_version, remaining)
            else:
                time.sleep(min(remaining, 0.2))

    def detail(self, container: Container) -> ContainerDetail:
        """The security detail of one container of the merged view, from its own source's snapshot."""
        source = self.by_name.get(container.source)
        if source is None:
            raise NotFound(container.id)
        snap = source.live.snapshot()
        if not status_of(source.config, snap, self.stale_grace).available:
            raise BackendUnavailable(f"source {source.name} is unavailable: {snap.error or NOT_SYNCED_YET}")
        found = self._merge_one(source, snap).details.get(container.id)
        if found is None:
            raise NotFound(container.id)
        return found

    def view(self, names: Iterable[str] | None = None) -> FleetView:
        """The merged view of the named sources (default: all). Never raises for a source that is down.

        The last view per selection is kept with the snapshots it was built from: while none of them is
        replaced (no change, no sync) and no stale source's grace period ended, a request costs no merge,
        no sort and no copy.
        """
        selected = self.sources if names is None else [self.by_name[n] for n in names]
        read = self._snapshots(selected)
        key = tuple(s.name for s in selected)
        now = time.time()
        with self._lock:
            cached = self._views.get(key)
        if cached is not None and now < cached[2] and all(a is b for a, (_, b) in zip(cached[0], read, strict=True)):
            return cached[1]
        statuses: list[SourceStatus] = []
        containers: list[Container] = []
        details: dict[str, ContainerDetail] = {}
        expires = float("inf")
        for source, snap in read:
            if snap is None:
                statuses.append(_late(source))
                continue
            status = status_of(source.config, snap, self.stale_grace, now)
            until = stale_until(snap, self.stale_grace)
            if until is not None and now < until:
                expires = min(expires, until)  # stale now, unavailable from then on
            statuses.append(status)
            if status.available:
                merged = self._merge_one(source, snap)
                containers.extend(merged.containers)
                details.update(merged.details)
        containers.sort(key=lambda c: c.id)
        view = FleetView(
            containers=tuple(containers),
            details=MappingProxyType(details),
            sources=tuple(statuses),
            by_id=MappingProxyType({c.id: c for c in containers}),
        )
        if all(snap is not None for _, snap in read):  # a late source's status carries no snapshot to compare
            with self._lock:
                self._views[key] = (tuple(snap for _, snap in read), view, expires)
        return view


def _late(source: Source) -> SourceStatus:
    timeout = source.config.timeout + DEADLINE_SLACK
    return SourceStatus(
        name=source.name,
        type=source.config.kind,
        endpoint=source.config.endpoint,
        status="unavailable",
        containers=None,
        last_sync=None,
        error=f"source did not answer within {timeout:.1f}s",
        state_version=0,
    )


def resolve(view: FleetView, ref: str) -> Container:
    """One container by API id, ``source:`` + engine id/name/prefix, engine id, name, or unique id prefix.

    A reference that matches nothing while some source is unavailable is not "not found": it may live
    there, so that is BackendUnavailable (503) rather than a 404.
    """
    found = view.by_id.get(ref)
    if found is not None:
        return found
    items: Iterable[Container] = view.containers
    needle = ref
    head, sep, tail = ref.partition(SEPARATOR)
    if sep and any(s.name == head for s in view.sources):
        items, needle = [c for c in view.containers if c.source == head], tail
    items = list(items)
    exact = [c for c in items if _engine_id(c) == needle or needle in c.names]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise AmbiguousReference(ref, [f"{c.source}{SEPARATOR}{c.name}" for c in exact])
    prefixed = [c for c in items if _engine_id(c).startswith(needle) or c.id.startswith(needle)]
    if len(ref) < 3:
        prefixed = []
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise AmbiguousReference(ref, [c.short_id for c in prefixed])
    if view.partial:
        raise BackendUnavailable(f"no container matches {ref!r} on the available sources (unavailable: {view.down()})")
    raise NotFound(ref)


def _engine_id(c: Container) -> str:
    return c.engine_id
