"""Wiring: from the environment to a running service, for the API (app.py, wsgi, gunicorn's master) and the
recorder's entry point.

Configuration reads values only (``inventory.config``); here they become the sources (SOURCES_FILE or the
single-source variables), the waiver policy (the rule catalog and WAIVER_FILE) and the live timings, and from
those the service. Anything wrong stops startup with one ``ConfigError`` line.

gunicorn's master runs ``configure`` before any worker exists, so importing this module must not create the
metrics (multiprocess files): the service and its sources are imported when ``build_service`` runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import ConfigError, Settings, load_settings
from .fleet.config import LiveTimings, SourceConfig, load_sources
from .posture import WaiverFileError, WaiverPolicy, catalog, load_waiver_file

if TYPE_CHECKING:
    from .backends import Backend
    from .live import LiveState
    from .service import InventoryService


@dataclass(frozen=True)
class Configured:
    """Everything the environment configures, validated: the settings, every source, the waiver policy."""

    settings: Settings
    sources: tuple[SourceConfig, ...]
    waivers: WaiverPolicy


def load_waivers(settings: Settings) -> WaiverPolicy:
    """WAIVER_FILE checked against the rule catalog (ALLOW_SELF_WAIVERS: whether self-waivers may count)."""
    if not settings.waiver_file:
        return WaiverPolicy((), settings.allow_self_waivers)
    try:
        known = {r.id for r in catalog().rules}
        return load_waiver_file(settings.waiver_file, known, settings.allow_self_waivers)
    except WaiverFileError as exc:
        raise ConfigError(str(exc)) from None


def configure(env: Mapping[str, str] | None = None) -> Configured:
    """Read and validate the whole configuration; raise ConfigError with a one-line message."""
    env = os.environ if env is None else env
    settings = load_settings(env)
    sources = load_sources(settings.sources_file, settings.engine_timeout, env)
    return Configured(settings, sources, load_waivers(settings))


def live_timings(settings: Settings) -> LiveTimings:
    return LiveTimings(cache_ttl=settings.cache_ttl, resync_interval=settings.live_resync_interval)


def build_service(
    configured: Configured, backend: Backend | None = None, live: LiveState | None = None
) -> InventoryService:
    """The service over every configured source; an explicit ``backend`` (tests, tools) serves the single one."""
    from .fleet.sources import build_sources
    from .service import InventoryService

    settings = configured.settings
    sources = build_sources(configured.sources, live_timings(settings), backend, live)
    return InventoryService(sources, configured.waivers, settings.live_stale_grace, settings.engine_timeout)


def service_for(source: SourceConfig, waivers: WaiverPolicy, env: Mapping[str, str]) -> InventoryService:
    """A service over one given source, the settings from ``env`` alone (inventory-scan's live scan)."""
    return build_service(Configured(load_settings(env), (source,), waivers))
