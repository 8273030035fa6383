"""Inventory service: listings, reference resolution and posture over every source's live state.

One ``Source`` per configured engine or cluster (inventory.fleet), each with its own live state; the
service answers from their merged view. A source that is down or slow is reported in the answer's
``sources`` block and marks it ``partial``; only when every source is unavailable does a call raise
``BackendUnavailable`` (503).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .backends.base import Backend
from .cache import TTLCache, VersionedCache
from .fleet.sources import Source, SourceStatus
from .fleet.view import Fleet, FleetView, resolve
from .live import LiveState, Snapshot
from .metrics import Grade, InventoryNumbers, SourceNumbers
from .model import BackendUnavailable, Container, ContainerDetail, SourceHealth
from .posture import RULES, ContainerReport, PostureReport, Waiver, WaiverPolicy, build_report, evaluate_container
from .query import ListQuery

# The waivers-expiring metric (and its alert) look this many days ahead.
EXPIRY_WARNING_DAYS = 14


@dataclass(frozen=True)
class ContainerPage:
    """One page of the listing and the state it was cut from (an opaque, hashable version of every source)."""

    items: list[Container]
    total: int
    next_cursor: str | None
    version: Hashable
    partial: bool = False
    sources: list[SourceHealth] = field(default_factory=list)
    stale: bool = False


@dataclass(frozen=True)
class Readiness:
    """What /readyz reports: the default source's engine identity (when it answered in time) and the fleet's state."""

    engine: str
    version: str | None
    api_version: str | None
    partial: bool
    synced: bool  # every source is synced with its engine
    stale: bool  # some answer comes from a source's last good state
    sources: list[SourceHealth]
    containers: int


class InventoryService:
    def __init__(self, sources: list[Source], waivers: WaiverPolicy, stale_grace: float, ping_timeout: float) -> None:
        """Every source (the wiring builds them, see ``inventory.wiring``), the waiver file's policy, how long a
        source that lost its engine stays served (LIVE_STALE_GRACE), and how long readiness waits for the engine
        identity (ENGINE_TIMEOUT)."""
        self.fleet = Fleet(sources, stale_grace)
        self.ping_timeout = ping_timeout
        first = self.fleet.sources[0]
        # The default (first) source, for callers that predate the fleet.
        self.backend: Backend = first.backend
        self.live: LiveState = first.live
        self.source: str = first.name
        self.waivers: list[Waiver] = list(waivers.waivers)  # the waiver file's
        self.allow_self_waivers = waivers.self_waivers
        # Engine identity of the default source for /readyz: one engine call per minute at most, and optional.
        self._engine_info: TTLCache[dict[str, Any]] = TTLCache("ping", 60.0)
        self._ping_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ping")
        # Posture reports and the metrics snapshot per state version (and day: waivers expire by date). A posture
        # report of 200 containers costs tens of milliseconds; scrapes, the dashboard and /api/posture share it.
        self._derived: VersionedCache[Any] = VersionedCache(16, versions=2)

    def start(self) -> None:
        """Start following every source now (gunicorn workers call this after the fork)."""
        self.fleet.start()

    def stop(self) -> None:
        self.fleet.stop()

    # -- the merged view ----------------------------------------------------------------------------------------
    def view(self, source: str | None = None) -> FleetView:
        """Every source's containers (or one source's); BackendUnavailable only when none of them answers."""
        view = self.fleet.view(None if source is None else [source])
        if not view.available:
            raise BackendUnavailable("no source is available (" + view.down() + ")")
        return view

    def state(self) -> Snapshot:
        """The whole fleet as one snapshot (the recorder's consistent look): the available sources' containers and
        details; ``version`` grows with every source's. BackendUnavailable only when no source is available."""
        # Read before the view: a change in between makes the recorder look once more, never miss it. The same sum
        # wait_for_change compares against (a source that answered late must not make it return at once).
        version = self.fleet.version()
        view = self.view()
        return Snapshot(
            version=version,
            containers=view.containers,
            details=view.details,
            synced=True,
            last_sync=time.time(),
            error=None,
            by_id=view.by_id,
        )

    def wait_for_change(self, after_version: int, timeout: float) -> int:
        """Block until some source's state moves past ``after_version`` (a sum, see ``state``) or timeout."""
        return self.fleet.wait_for_change(after_version, timeout)

    def sources(self) -> tuple[SourceStatus, ...]:
        """Health of every source; never raises."""
        return self.fleet.view().sources

    def unavailable_sources(self) -> set[str]:
        """Names of the sources whose containers are missing right now (the recorder keeps their last state)."""
        return {s.name for s in self.sources() if not s.available}

    def source_names(self) -> list[str]:
        return [s.name for s in self.fleet.sources]

    def ping(self) -> Readiness:
        """Readiness: at least one source answers, synced or stale within its grace period (no engine call);
        ``synced`` says whether every source is synced, ``stale`` whether some answer comes from a last good state."""
        view = self.view()
        future = self._ping_pool.submit(self._engine_info.get, "ping", self.backend.ping)
        try:
            engine = future.result(timeout=self.ping_timeout)
        except (BackendUnavailable, FutureTimeout):
            engine = {"engine": self.backend.name}  # readiness is the sync; the identity is a bonus
        return Readiness(
            engine=str(engine.get("engine", self.backend.name)),
            version=engine.get("version"),
            api_version=engine.get("api_version"),
            partial=view.partial,
            synced=view.synced,
            stale=view.stale,
            sources=[s.brief() for s in view.sources],
            containers=len(view.containers),
        )

    def containers(self, include_stopped: bool, source: str | None = None) -> list[Container]:
        """Containers of the available sources, sorted by id so cursors are stable; no engine call."""
        return self.view(source).select(include_stopped)

    def page(self, q: ListQuery, view: FleetView | None = None) -> ContainerPage:
        """One page of the listing, cut from ``view`` (default: the current view of the query's sources)."""
        view = view or self.view(q.source)
        items, total, next_cursor = q.page(view.select(q.include_stopped))
        return ContainerPage(
            items, total, next_cursor, view.version, view.partial, [s.brief() for s in view.sources], view.stale
        )

    def resolve(self, ref: str) -> Container:
        """One container by id, ``source:`` + id/name/prefix, name, or unique id prefix (stopped ones included)."""
        return resolve(self.view(), ref)

    def detail(self, container: Container) -> ContainerDetail:
        return self.fleet.detail(container)

    # -- posture ------------------------------------------------------------------------------------------------
    def _backend_name(self, source: str) -> str:
        found = self.fleet.by_name.get(source)
        return found.backend.name if found else self.backend.name

    def report(self, container: Container, detail: ContainerDetail) -> ContainerReport:
        """Posture of one container (findings with waivers, score), attributed to its source."""
        # The listing carries labels for every backend; inspect may add more.
        merged = dataclasses.replace(container, labels={**container.labels, **detail.container.labels})
        return evaluate_container(
            merged,
            detail.security,
            self._backend_name(container.source),
            container.source,
            self.waivers,
            allow_self_waivers=self.allow_self_waivers,
        )

    def posture(self, include_stopped: bool = False, source: str | None = None) -> PostureReport:
        view = self.view(source)
        key = ("posture", include_stopped, source, date.today())
        report: PostureReport = self._derived.get(
            view.version, key, lambda: self._posture(view, include_stopped, source)
        )
        return report

    def _posture(self, view: FleetView, include_stopped: bool, source: str | None) -> PostureReport:
        reports = [self.report(c, view.details[c.id]) for c in view.select(include_stopped) if c.id in view.details]
        backends = {self.fleet.by_name[s.name].backend.name for s in view.sources}
        single = len(self.fleet.sources) == 1 or source is not None
        report = build_report(
            source or (self.source if single else "*"),
            self.backend.name if len(backends) == 1 else ",".join(sorted(backends)),
            reports,
            self.waivers,
        )
        return dataclasses.replace(
            report,
            rules=tuple(r for r in RULES if any(r.applies_to(b) for b in backends)),
            sources=tuple(s.brief() for s in view.sources),
            partial=view.partial,
            stale=view.stale,
        )

    # -- metrics ------------------------------------------------------------------------------------------------
    def snapshot(self) -> InventoryNumbers:
        """Scrape-time view for metrics: per source up, containers by state, unwaived findings by rule; the
        fleet's score; waiver file health."""
        today = date.today()
        view = self.fleet.view()
        numbers: InventoryNumbers = self._derived.get(
            view.version, ("metrics", today), lambda: self._snapshot(view, today)
        )
        return numbers

    def _source_numbers(self, view: FleetView, status: SourceStatus, running: list[ContainerReport]) -> SourceNumbers:
        src = self.fleet.by_name[status.name]
        up = status.status == "ok"  # inventory_source_up; a stale source is down but still has numbers
        if not status.available:
            return SourceNumbers(status.name, src.config.kind, up)
        mine = [c for c in view.containers if c.source == status.name]
        findings: Counter[tuple[str, str]] = Counter()
        for c in mine:
            if c.state == "running" and c.id in view.details:
                report = self.report(c, view.details[c.id])
                running.append(report)
                for f in report.findings:
                    if not f.waived:
                        findings[(f.rule, f.severity)] += 1
        for rule in RULES:  # zeros, so alerts see absent findings as 0 rather than no data
            if rule.applies_to(src.backend.name):
                findings.setdefault((rule.id, rule.severity), 0)
        return SourceNumbers(status.name, src.config.kind, up, Counter(c.state for c in mine), findings)

    def _snapshot(self, view: FleetView, today: date) -> InventoryNumbers:
        expiring: Counter[tuple[str, str]] = Counter(
            (w.rule, w.owner)
            for w in self.waivers
            if not w.expired(today) and (w.expires - today).days < EXPIRY_WARNING_DAYS
        )
        expired = sum(1 for w in self.waivers if w.expired(today))
        running: list[ContainerReport] = []
        sources = tuple(self._source_numbers(view, status, running) for status in view.sources)
        if not view.available:
            return InventoryNumbers(False, sources, expiring, expired)
        overall = build_report(self.source, self.backend.name, running, self.waivers).score
        scores = {r.name if r.source == self.source else f"{r.source}:{r.name}": r.score.value for r in running}
        return InventoryNumbers(True, sources, expiring, expired, Grade(overall.value, overall.grade, scores))
