"""A source = name + backend + live state; its health as the API reports it.

Each configured engine or cluster gets its own backend (built from the per-source Settings, see
``config.backend_settings``) and its own ``LiveState``, so one source that is down or slow only ever
makes its own snapshot unsynced: it never blocks another source's state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..backends import Backend, make_backend
from ..config import Settings
from ..live import NOT_SYNCED_YET, LiveState, Snapshot, make_live_state
from .config import SourceConfig, backend_settings, default_source


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
    status: str  # ok | unavailable | starting
    containers: int | None  # None while unavailable
    last_sync: str | None  # ISO 8601 UTC of the last completed full sync
    error: str | None
    state_version: int

    @property
    def available(self) -> bool:
        return self.status == "ok"

    def brief(self) -> dict[str, Any]:
        """The per-source block of listings and posture answers."""
        return {"name": self.name, "status": self.status, "containers": self.containers, "error": self.error}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "endpoint": self.endpoint,
            "status": self.status,
            "containers": self.containers,
            "last_sync": self.last_sync,
            "error": self.error,
            "state_version": self.state_version,
        }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def status_of(config: SourceConfig, snap: Snapshot) -> SourceStatus:
    if snap.synced:
        status = "ok"
    elif snap.error == NOT_SYNCED_YET and snap.last_sync is None:
        status = "starting"
    else:
        status = "unavailable"
    return SourceStatus(
        name=config.name,
        type=config.kind,
        endpoint=config.endpoint,
        status=status,
        containers=len(snap.containers) if snap.synced else None,
        last_sync=_iso(snap.last_sync),
        error=None if snap.synced else (snap.error or NOT_SYNCED_YET),
        state_version=snap.version,
    )


def build_source(settings: Settings, config: SourceConfig, backend: Backend | None = None) -> Source:
    per_source = backend_settings(settings, config)
    backend = backend or make_backend(per_source)
    if config.kind == "podman":
        backend.name = "podman"  # engine label in metrics and readiness; same Docker-compatible API
    return Source(config=config, backend=backend, live=make_live_state(backend, per_source))


def build_sources(settings: Settings, backend: Backend | None = None, live: LiveState | None = None) -> list[Source]:
    """One Source per configured source. An explicit backend (tests, tools) serves the single default source."""
    configs: Sequence[SourceConfig] = settings.sources or (default_source(settings),)
    if backend is None:
        return [build_source(settings, config) for config in configs]
    if len(configs) != 1:
        raise ValueError("an explicit backend needs exactly one configured source")
    per_source = backend_settings(settings, configs[0])
    return [Source(config=configs[0], backend=backend, live=live or make_live_state(backend, per_source))]
