"""Prometheus metrics (RED, backend, cache) and the scrape-time inventory collector.

Works under gunicorn with several workers: when PROMETHEUS_MULTIPROC_DIR is set,
every worker writes its samples to that directory and ``/metrics`` aggregates them
(prometheus_client multiprocess mode). Inventory gauges (containers by state, posture
findings, backend up) are computed at scrape time by ``InventoryCollector`` so they
are never stale and never double counted across workers.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Multiprocess mode writes to this directory from the first metric on; make sure it exists
# (gunicorn's on_starting also empties it so stale worker files are not summed).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "inventory_http_requests_total", "HTTP requests handled by the API", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "inventory_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge("inventory_http_requests_in_flight", "HTTP requests being handled", multiprocess_mode="livesum")
BACKEND_CALLS = Counter(
    "inventory_backend_requests_total", "Calls to the container backend", ["backend", "operation", "outcome"]
)
BACKEND_LATENCY = Histogram(
    "inventory_backend_request_duration_seconds",
    "Latency of calls to the container backend",
    ["backend", "operation"],
    buckets=LATENCY_BUCKETS,
)
LIVE_EVENTS = Counter("inventory_live_events_total", "Engine lifecycle events applied to the live state", ["action"])
LIVE_RESYNCS = Counter("inventory_live_resyncs_total", "Full resyncs of the live state (one engine list call each)")
LIVE_VERSION_CHANGES = Counter("inventory_live_changes_total", "Live state versions published (content changes)")
CACHE_REQUESTS = Counter("inventory_cache_requests_total", "Inventory cache lookups", ["cache", "result"])

CONTENT_TYPE = CONTENT_TYPE_LATEST


@contextmanager
def track_backend_call(backend: str, operation: str) -> Iterator[None]:
    """Count and time one backend call; the outcome label says ok / not_found / error."""
    start = time.perf_counter()
    outcome = "ok"
    try:
        yield
    except Exception as exc:
        outcome = "not_found" if exc.__class__.__name__ == "NotFound" else "error"
        raise
    finally:
        BACKEND_LATENCY.labels(backend, operation).observe(time.perf_counter() - start)
        BACKEND_CALLS.labels(backend, operation, outcome).inc()


@dataclass(frozen=True)
class SourceNumbers:
    """One source at scrape time. ``states`` and ``findings`` are None while its containers are not visible
    (no numbers rather than zeros); a stale source keeps its last ones."""

    source: str
    type: str
    up: bool  # synced with its engine (a stale source is down but still has numbers)
    states: Tally[str] | None = None
    findings: Tally[tuple[str, str]] | None = None  # unwaived, running containers, by (rule, severity)


@dataclass(frozen=True)
class Grade:
    score: float  # the fleet's posture score, 0-100
    grade: str
    container_scores: Mapping[str, float]  # per running container, by name (source:name off the default source)


@dataclass(frozen=True)
class InventoryNumbers:
    """What a scrape exports, computed once per state version by the service."""

    up: bool  # some source is available
    sources: tuple[SourceNumbers, ...]
    waivers_expiring: Tally[tuple[str, str]] = field(default_factory=Tally)  # by (rule, owner)
    waivers_expired: int = 0
    posture: Grade | None = None  # None while no source is available


class InventoryCollector(Collector):
    """Computes inventory gauges at scrape time from the (cached) inventory service."""

    def __init__(self, snapshot: Callable[[], InventoryNumbers], build: dict[str, str]) -> None:
        self._snapshot = snapshot
        self._build = build

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = GaugeMetricFamily("inventory_build_info", "Build information", labels=["version", "revision", "backend"])
        info.add_metric([self._build["version"], self._build["revision"], self._build["backend"]], 1)
        yield info
        snap = self._snapshot()
        up = GaugeMetricFamily(
            "inventory_backend_up", "1 if the API can answer: at least one source is available", labels=["backend"]
        )
        up.add_metric([self._build["backend"]], 1 if snap.up else 0)
        yield up
        yield from _waiver_metrics(snap)
        source_up = GaugeMetricFamily(
            "inventory_source_up",
            "1 if the source (engine or cluster) is synced (0 while stale or unavailable)",
            labels=["source", "type"],
        )
        for src in snap.sources:
            source_up.add_metric([src.source, src.type], 1 if src.up else 0)
        yield source_up
        states = GaugeMetricFamily("inventory_containers", "Containers by source and state", labels=["source", "state"])
        findings = GaugeMetricFamily(
            "inventory_posture_findings",
            "Unwaived posture findings on running containers by source, rule and severity",
            labels=["source", "rule", "severity"],
        )
        for src in snap.sources:
            for state, count in sorted((src.states or {}).items()):
                states.add_metric([src.source, state], count)
            for (rule, severity), count in sorted((src.findings or {}).items()):
                findings.add_metric([src.source, rule, severity], count)
        yield states
        yield findings
        if snap.posture is not None:
            score = GaugeMetricFamily(
                "inventory_posture_score",
                "Posture score of the host/cluster (0-100, mean of the running containers' scores; waived excluded)",
                labels=["grade"],
            )
            score.add_metric([snap.posture.grade], snap.posture.score)
            yield score
            per = GaugeMetricFamily(
                "inventory_posture_container_score", "Posture score of each running container (0-100)", labels=["name"]
            )
            for name, value in sorted(snap.posture.container_scores.items()):
                per.add_metric([name], value)
            yield per


def _waiver_metrics(snap: InventoryNumbers) -> Iterator[GaugeMetricFamily]:
    """Waiver file health: exported whether or not the backend answers (it is configuration)."""
    expiring = GaugeMetricFamily(
        "inventory_posture_waivers_expiring",
        "Waivers from the waiver file that are still valid and expire within 14 days",
        labels=["rule", "owner"],
    )
    for (rule, owner), count in sorted(snap.waivers_expiring.items()):
        expiring.add_metric([rule, owner], count)
    yield expiring
    expired = GaugeMetricFamily("inventory_posture_waivers_expired", "Waivers from the waiver file that have expired")
    expired.add_metric([], snap.waivers_expired)
    yield expired


def render(extra: Collector | None) -> bytes:
    """Render the exposition: aggregated across workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if extra is not None:
        scrape_time = CollectorRegistry()
        scrape_time.register(extra)
        body += generate_latest(scrape_time)
    return body
