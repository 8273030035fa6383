"""Inventory service: caching, reference resolution and posture on top of a backend."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from .backends.base import AmbiguousReference, Backend, BackendUnavailable, Container, ContainerDetail, NotFound
from .cache import TTLCache
from .config import Settings
from .posture import RULES, ContainerReport, PostureReport, Waiver, evaluate_container, overall_score

T = TypeVar("T")
# Slack on top of the engine timeout for the whole call (name resolution, connect, read).
DEADLINE_SLACK = 0.2


class InventoryService:
    def __init__(self, backend: Backend, settings: Settings, source: str = "local") -> None:
        self.backend = backend
        self.settings = settings
        self.source = source
        self.waivers: list[Waiver] = []
        self._lists: TTLCache[list[Container]] = TTLCache("list", settings.cache_ttl)
        # Container config is immutable after creation, so inspect results live longer.
        self._details: TTLCache[ContainerDetail] = TTLCache("inspect", settings.inspect_cache_ttl)
        self._pings: TTLCache[dict[str, Any]] = TTLCache("ping", min(settings.cache_ttl, 1.0))
        # Socket timeouts do not cover DNS: a stopped engine proxy can make getaddrinfo hang for
        # seconds. Every backend call runs here under one overall deadline instead.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="backend")
        self._deadline = settings.engine_timeout + DEADLINE_SLACK

    def _bounded(self, fn: Callable[..., T], *args: Any) -> T:
        future = self._pool.submit(fn, *args)
        try:
            return future.result(timeout=self._deadline)
        except FutureTimeout:
            future.cancel()
            raise BackendUnavailable(f"backend did not answer within {self._deadline:.1f}s") from None

    def ping(self) -> dict[str, Any]:
        return self._pings.get("ping", lambda: self._bounded(self.backend.ping))

    def containers(self, include_stopped: bool) -> list[Container]:
        """All containers, sorted by id so cursors are stable; one backend call per cache window."""

        def load() -> list[Container]:
            return sorted(self._bounded(self.backend.list_containers, include_stopped), key=lambda c: c.id)

        return self._lists.get(("list", include_stopped), load)

    def resolve(self, ref: str) -> Container:
        """Find one container by full id, name, or unique id prefix (stopped ones included)."""
        items = self.containers(include_stopped=True)
        for c in items:
            if c.id == ref or ref in c.names:
                return c
        matches = [c for c in items if c.id.startswith(ref)] if len(ref) >= 3 else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise AmbiguousReference(ref, [c.short_id for c in matches])
        raise NotFound(ref)

    def detail(self, container: Container) -> ContainerDetail:
        key = (container.id, container.created, container.state)
        return self._details.get(key, lambda: self._bounded(self.backend.inspect, container.id))

    def report(self, container: Container, detail: ContainerDetail) -> ContainerReport:
        """Posture of one container (findings with waivers, score)."""
        # The listing carries labels for every backend; inspect may add more.
        merged = dataclasses.replace(container, labels={**container.labels, **detail.container.labels})
        return evaluate_container(merged, detail.security, self.backend.name, self.source, self.waivers)

    def posture(self, include_stopped: bool = False) -> PostureReport:
        reports: list[ContainerReport] = []
        for c in self.containers(include_stopped):
            try:
                detail = self.detail(c)
            except NotFound:
                continue  # removed between list and inspect
            reports.append(self.report(c, detail))
        return PostureReport(
            source=self.source,
            backend=self.backend.name,
            containers=reports,
            rules=tuple(r for r in RULES if r.applies_to(self.backend.name)),
            score=overall_score([r.score for r in reports]),
        )

    def snapshot(self) -> dict[str, Any]:
        """Scrape-time view for metrics: is the backend up, states, findings by rule."""
        try:
            self.ping()
            everything = self.containers(include_stopped=True)
            report = self.posture(include_stopped=False)
        except BackendUnavailable:
            return {"up": False}
        findings: Counter[tuple[str, str]] = Counter()
        for f in report.findings:
            if not f.waived:
                findings[(f.rule, f.severity)] += 1
        for rule in report.rules:  # export zeros so alerts see absent findings as 0, not as no data
            findings.setdefault((rule.id, rule.severity), 0)
        return {"up": True, "states": Counter(c.state for c in everything), "findings": findings}
