"""Inventory service: listings, reference resolution and posture, answered from the live state."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import date
from typing import Any

from .backends.base import AmbiguousReference, Backend, BackendUnavailable, Container, ContainerDetail, NotFound
from .cache import TTLCache
from .config import Settings
from .live import NOT_SYNCED_YET, LiveState, Snapshot, make_live_state
from .posture import ContainerReport, PostureReport, Waiver, WaiverPolicy, build_report, evaluate_container
from .query import ListQuery

# The waivers-expiring metric (and its alert) look this many days ahead.
EXPIRY_WARNING_DAYS = 14


@dataclass(frozen=True)
class ContainerPage:
    """One page of the listing and the state version it was cut from (an opaque, hashable value)."""

    items: list[Container]
    total: int
    next_cursor: str | None
    version: Hashable


class InventoryService:
    def __init__(
        self, backend: Backend, settings: Settings, source: str = "local", live: LiveState | None = None
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.source = source
        policy = settings.waivers or WaiverPolicy()
        self.waivers: list[Waiver] = list(policy.waivers)  # the waiver file's
        self.allow_self_waivers = policy.self_waivers
        self.live = live or make_live_state(backend, settings)
        # Engine identity for /readyz: one engine call per minute at most, and optional.
        self._engine_info: TTLCache[dict[str, Any]] = TTLCache("ping", 60.0)
        self._ping_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ping")

    def start(self) -> None:
        """Start following the backend now (gunicorn workers call this after the fork)."""
        self.live.start()

    def state(self) -> Snapshot:
        """The current synced snapshot. Before the first sync, wait for it up to the engine timeout;
        unsynced (engine or proxy gone, stream broken) -> BackendUnavailable."""
        snap = self.live.snapshot()
        deadline = time.monotonic() + self.settings.engine_timeout
        while not snap.synced and snap.error == NOT_SYNCED_YET:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.live.wait_for_change(snap.version, remaining)
            snap = self.live.snapshot()
        if not snap.synced:
            raise BackendUnavailable(snap.error or NOT_SYNCED_YET)
        return snap

    def ping(self) -> dict[str, Any]:
        """Readiness: the live state is synced (plus the engine identity, cached)."""
        snap = self.state()
        future = self._ping_pool.submit(self._engine_info.get, "ping", self.backend.ping)
        try:
            engine = future.result(timeout=self.settings.engine_timeout)
        except (BackendUnavailable, FutureTimeout):
            engine = {"engine": self.backend.name}  # readiness is the sync; the identity is a bonus
        return {
            **engine,
            "state_version": snap.version,
            "last_sync": snap.last_sync,
            "containers": len(snap.containers),
        }

    def containers(self, include_stopped: bool) -> list[Container]:
        """All containers, sorted by id so cursors are stable; no engine call."""
        return self.state().select(include_stopped)

    def page(self, q: ListQuery) -> ContainerPage:
        snap = self.state()
        items, total, next_cursor = q.page(snap.select(q.include_stopped))
        return ContainerPage(items, total, next_cursor, snap.version)

    def resolve(self, ref: str) -> Container:
        """Find one container by full id, name, or unique id prefix (stopped ones included)."""
        snap = self.state()
        found = snap.by_id.get(ref)
        if found is not None:
            return found
        for c in snap.containers:
            if ref in c.names:
                return c
        matches = [c for c in snap.containers if c.id.startswith(ref)] if len(ref) >= 3 else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise AmbiguousReference(ref, [c.short_id for c in matches])
        raise NotFound(ref)

    def detail(self, container: Container) -> ContainerDetail:
        found = self.state().details.get(container.id)
        if found is None:
            raise NotFound(container.id)
        return found

    def report(self, container: Container, detail: ContainerDetail) -> ContainerReport:
        """Posture of one container (findings with waivers, score)."""
        # The listing carries labels for every backend; inspect may add more.
        merged = dataclasses.replace(container, labels={**container.labels, **detail.container.labels})
        return evaluate_container(
            merged,
            detail.security,
            self.backend.name,
            self.source,
            self.waivers,
            allow_self_waivers=self.allow_self_waivers,
        )

    def posture(self, include_stopped: bool = False) -> PostureReport:
        snap = self.state()  # one snapshot: containers and details agree
        reports = [self.report(c, snap.details[c.id]) for c in snap.select(include_stopped) if c.id in snap.details]
        return build_report(self.source, self.backend.name, reports, self.waivers)

    def snapshot(self) -> dict[str, Any]:
        """Scrape-time view for metrics: is the state synced, states, findings by rule, scores, waivers."""
        today = date.today()
        expiring: Counter[tuple[str, str]] = Counter(
            (w.rule, w.owner)
            for w in self.waivers
            if not w.expired(today) and (w.expires - today).days < EXPIRY_WARNING_DAYS
        )
        waivers = {"waivers_expiring": expiring, "waivers_expired": sum(1 for w in self.waivers if w.expired(today))}
        try:
            everything = self.containers(include_stopped=True)
            report = self.posture(include_stopped=False)
        except BackendUnavailable:
            return {"up": False, **waivers}
        findings: Counter[tuple[str, str]] = Counter()
        for f in report.findings:
            if not f.waived:
                findings[(f.rule, f.severity)] += 1
        for rule in report.rules:  # export zeros so alerts see absent findings as 0, not as no data
            findings.setdefault((rule.id, rule.severity), 0)
        return {
            "up": True,
            "states": Counter(c.state for c in everything),
            "findings": findings,
            "score": report.score.value,
            "grade": report.score.grade,
            "container_scores": {c.name: c.score.value for c in report.containers},
            **waivers,
        }
