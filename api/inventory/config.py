"""Configuration from environment variables (12-factor).

Every setting has a default that is safe for the local stack; an invalid value stops
startup with one clear line (see ``ConfigError``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fleet.config import SourceConfig, TLSFiles
    from .posture.waivers import WaiverPolicy


class ConfigError(ValueError):
    """Raised when an environment variable holds an invalid value."""


BACKENDS = ("docker", "kubernetes")
# auto: Secure when the request came over TLS (request scheme or the proxy's X-Forwarded-Proto).
UI_COOKIE_SECURE = ("auto", "true", "false")


@dataclass(frozen=True)
class Settings:
    backend: str = "docker"
    docker_host: str = "unix:///var/run/docker.sock"
    engine_timeout: float = 1.5
    cache_ttl: float = 2.0
    live_resync_interval: float = 60.0
    # Seconds a source that lost its engine keeps serving its last good state, marked stale (0: unavailable at once).
    live_stale_grace: float = 15.0
    api_token_file: str = ""
    k8s_namespaces: tuple[str, ...] = ()
    k8s_in_cluster: bool = True
    k8s_api_url: str = ""
    k8s_kubeconfig: str = ""
    k8s_context: str = ""
    docker_tls: TLSFiles | None = None
    # Every engine/cluster this API aggregates; load_settings always fills it (file or environment).
    sources_file: str = ""
    sources: tuple[SourceConfig, ...] = ()
    page_limit_default: int = 100
    page_limit_max: int = 1000
    trusted_proxy_hops: int = 1
    version: str = "0.0.0-dev"
    git_sha: str = "unknown"
    build_time: str = "unknown"
    log_level: str = "INFO"
    # History database (read by /api/changes etc.; written only by the recorder). Checked by inventory.history.
    database_url: str = "sqlite:////var/lib/inventory/history.db"
    # Dashboard (/ui/): cookie signing key file (default: derived from the API token), Secure flag, lifetime.
    ui_secret_key_file: str = ""
    ui_cookie_secure: str = "auto"
    ui_session_hours: float = 8.0
    # Posture waivers: the file (WAIVER_FILE, validated at startup) and whether self-waivers may count.
    waiver_file: str = ""
    waivers: WaiverPolicy | None = None  # load_settings always fills it
    extra: dict[str, str] = field(default_factory=dict)


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be >= {minimum}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be >= {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raise ConfigError with a one-line message."""
    env = os.environ if env is None else env
    backend = env.get("INVENTORY_BACKEND", "docker").strip().lower()
    if backend not in BACKENDS:
        raise ConfigError(f"INVENTORY_BACKEND={backend!r} is not one of {', '.join(BACKENDS)}")
    docker_host = env.get("DOCKER_HOST", "unix:///var/run/docker.sock").strip()
    if not docker_host.startswith(("unix://", "tcp://", "http://", "https://")):
        raise ConfigError(f"DOCKER_HOST={docker_host!r} must start with unix://, tcp://, http:// or https://")
    token_file = env.get("API_TOKEN_FILE", "").strip()
    namespaces = tuple(ns.strip() for ns in env.get("K8S_NAMESPACES", "").split(",") if ns.strip())
    level = env.get("LOG_LEVEL", "INFO").strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"LOG_LEVEL={level!r} is not one of DEBUG, INFO, WARNING, ERROR")
    limit_max = _int(env, "PAGE_LIMIT_MAX", 1000, minimum=1)
    limit_default = _int(env, "PAGE_LIMIT_DEFAULT", 100, minimum=1)
    if limit_default > limit_max:
        raise ConfigError(f"PAGE_LIMIT_DEFAULT={limit_default} exceeds PAGE_LIMIT_MAX={limit_max}")
    timeout = _float(env, "ENGINE_TIMEOUT", 1.5, minimum=0.1)
    from .fleet.config import SourcesError, load_sources_file, source_from_env

    sources_file = env.get("SOURCES_FILE", "").strip()
    try:
        if sources_file:
            sources = load_sources_file(sources_file, timeout)
        else:
            sources = (source_from_env(env, backend, docker_host, timeout),)
    except SourcesError as exc:
        raise ConfigError(str(exc)) from None
    from .posture.catalog import catalog
    from .posture.waivers import WaiverFileError, WaiverPolicy, load_waiver_file

    waiver_file = env.get("WAIVER_FILE", "").strip()
    allow_self = _bool(env, "ALLOW_SELF_WAIVERS", False)
    try:
        waivers = (
            load_waiver_file(waiver_file, {r.id for r in catalog().rules}, allow_self)
            if waiver_file
            else WaiverPolicy((), allow_self)
        )
    except WaiverFileError as exc:
        raise ConfigError(str(exc)) from None
    cookie_secure = env.get("UI_COOKIE_SECURE", "auto").strip().lower() or "auto"
    if cookie_secure not in UI_COOKIE_SECURE:
        raise ConfigError(f"UI_COOKIE_SECURE={cookie_secure!r} is not one of {', '.join(UI_COOKIE_SECURE)}")
    return Settings(
        backend=backend,
        docker_host=docker_host,
        engine_timeout=timeout,
        waiver_file=waiver_file,
        waivers=waivers,
        cache_ttl=_float(env, "CACHE_TTL", 2.0),
        live_resync_interval=_float(env, "LIVE_RESYNC_INTERVAL", 60.0, minimum=1.0),
        live_stale_grace=_float(env, "LIVE_STALE_GRACE", 15.0),
        api_token_file=token_file,
        k8s_namespaces=namespaces,
        k8s_in_cluster=_bool(env, "K8S_IN_CLUSTER", True),
        k8s_api_url=env.get("K8S_API_URL", "").strip(),
        k8s_kubeconfig=sources[0].kubeconfig if not sources_file else "",
        k8s_context=sources[0].context if not sources_file else "",
        docker_tls=sources[0].tls if not sources_file else None,
        sources_file=sources_file,
        sources=sources,
        page_limit_default=limit_default,
        page_limit_max=limit_max,
        trusted_proxy_hops=_int(env, "TRUSTED_PROXY_HOPS", 1),
        version=env.get("APP_VERSION", "0.0.0-dev"),
        git_sha=env.get("GIT_SHA", "unknown"),
        build_time=env.get("BUILD_TIME", "unknown"),
        log_level=level,
        database_url=_database_url(env),
        ui_secret_key_file=env.get("UI_SECRET_KEY_FILE", "").strip(),
        ui_cookie_secure=cookie_secure,
        ui_session_hours=_float(env, "UI_SESSION_HOURS", 8.0, minimum=0.1),
    )


def _database_url(env: Mapping[str, str]) -> str:
    from .history.settings import database_url  # late: the history package imports this module

    return database_url(env)
