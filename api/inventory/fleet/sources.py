"""A source = name + backend + live state; its health as the API reports it.

Each configured engine or cluster gets its own backend (built from its ``SourceConfig``) and its own
``LiveState``, so one source that is down or slow only ever
makes its own snapshot unsynced: it never blocks another source's state. A source that loses its engine
keeps serving its last good state, marked ``stale``, for ``LIVE_STALE_GRACE`` seconds (a socket-proxy restart,
one slow engine read under load), then it is ``unavailable``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..backends import Backend, make_backend
from ..live import NOT_SYNCED_YET, LiveState, Snapshot, make_live_state
from ..model import SourceHealth
from .config import LiveTimings, SourceConfig


@dataclass
class Source:
    config: SourceConfig
    backend: Backend
    live: LiveState

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True)
class SourceStatus:
    """One source's health in an answer: what /api/sources and every listing's ``sources`` block show."""

    name: str
    type: str
    endpoint: str  # never credentials (see SourceConfig.endpoint)
    status: str  # ok | stale | unavailable | starting
    containers: int | None  # None while unavailable
    last_sync: str | None  # ISO 8601 UTC of the last completed full sync
    error: str | None
    state_version: int

    @property
    def available(self) -> bool:
        """Its containers are in the answer: synced, or stale (the last good state, within the grace period)."""
        return self.status in ("ok", "stale")

    @property
    def stale(self) -> bool:
        return self.status == "stale"

    def brief(self) -> SourceHealth:
        """The per-source block of listings and posture answers."""
        return SourceHealth(self.name, self.status, self.containers, self.error)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def stale_until(snap: Snapshot, grace: float) -> float | None:
    """Until when (time.time()) a lost state's last good content is still served, marked stale; None: not at all
    (synced, never synced, or no grace period)."""
    if snap.synced or snap.lost_at is None or snap.last_sync is None or grace <= 0:
        return None
    return snap.lost_at + grace


def status_of(config: SourceConfig, snap: Snapshot, grace: float = 0.0, now: float | None = None) -> SourceStatus:
    """ok (synced); stale (lost, within ``grace`` seconds of it: the last good state is served); starting (first
    sync pending); else unavailable."""
    until = stale_until(snap, grace)
    if snap.synced:
        status = "ok"
    elif snap.error == NOT_SYNCED_YET and snap.last_sync is None:
        status = "starting"
    elif until is not None and (time.time() if now is None else now) < until:
        status = "stale"
    else:
        status = "unavailable"
    return SourceStatus(
        name=config.name,
        type=config.kind,
        endpoint=config.endpoint,
        status=status,
        containers=len(snap.containers) if status in ("ok", "stale") else None,
        last_sync=_iso(snap.last_sync),
        error=None if snap.synced else (snap.error or NOT_SYNCED_YET),
        state_version=snap.version,
    )


def build_source(config: SourceConfig, timings: LiveTimings, backend: Backend | None = None) -> Source:
    backend = backend or make_backend(config)
    if config.kind == "podman":
        backend.name = "podman"  # engine label in metrics and readiness; same Docker-compatible API
    return Source(config=config, backend=backend, live=make_live_state(backend, config, timings))


def build_sources(
    configs: Sequence[SourceConfig], timings: LiveTimings, backend: Backend | None = None, live: LiveState | None = None
) -> list[Source]:
    """One Source per configured source. An explicit backend (tests, tools) serves the single configured source."""
    if backend is None:
        return [build_source(config, timings) for config in configs]
    if len(configs) != 1:
        raise ValueError("an explicit backend needs exactly one configured source")
    return [Source(config=configs[0], backend=backend, live=live or make_live_state(backend, configs[0], timings))]
