"""The API's settings and the single-source variables, declared once (see ``declare``).

Every setting has a default that is safe for the local stack; an invalid value stops startup with one clear line
(see ``ConfigError``). This package reads the environment only: the wiring (``inventory.wiring``) turns the values
into sources (SOURCES_FILE or the single-source variables), the waiver policy and the services.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .database import database_setting
from .declare import ConfigError, load, setting

BACKENDS = ("docker", "kubernetes")
# auto: Secure when the request came over TLS (request scheme or the proxy's X-Forwarded-Proto).
UI_COOKIE_SECURE = ("auto", "true", "false")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _engine_url(url: str) -> str:
    if not url.startswith(("unix://", "tcp://", "http://", "https://")):
        raise ConfigError(f"DOCKER_HOST={url!r} must start with unix://, tcp://, http:// or https://")
    return url


@dataclass(frozen=True)
class Settings:
    """What the API and the recorder read; which engines and clusters they follow is ``SOURCES_FILE`` or
    ``SingleSource``."""

    sources_file: str = setting(
        "SOURCES_FILE",
        "",
        "YAML/JSON file naming every engine and cluster to aggregate ([Fleet](FLEET.md)); when set, the "
        "single-source variables (below) are not used",
    )
    engine_timeout: float = setting(
        "ENGINE_TIMEOUT",
        1.5,
        "seconds per backend call; the whole call (DNS included) is cut at this + 0.2 s",
        minimum=0.1,
    )
    live_resync_interval: float = setting(
        "LIVE_RESYNC_INTERVAL",
        60.0,
        "seconds between full resyncs of the live state (one engine list call each, per worker); also how long a "
        "quiet event stream is kept before it is reopened",
        minimum=1.0,
    )
    live_stale_grace: float = setting(
        "LIVE_STALE_GRACE",
        15.0,
        "seconds a source that lost its engine (stream break, proxy restart, a read past its deadline) keeps "
        'serving its last good state, marked `stale` (200, `"stale": true`); then it is `unavailable`. '
        "`0` = unavailable at once",
    )
    cache_ttl: float = setting(
        "CACHE_TTL",
        2.0,
        "only for a backend without an event stream or informer: seconds a polled snapshot is reused (0 = poll on "
        "every request; concurrent requests share one poll)",
    )
    api_token_file: str = setting(
        "API_TOKEN_FILE",
        "",
        "file holding the bearer token for `/api/*`; re-read when it changes (rotation without restart); "
        "missing/empty file → 503, fail closed. Health endpoints stay open",
        shown="empty (auth off)",
    )
    ui_secret_key_file: str = setting(
        "UI_SECRET_KEY_FILE",
        "",
        "file holding the dashboard's cookie signing key; re-read when it changes",
        shown="empty (derived from the API token)",
    )
    ui_cookie_secure: str = setting(
        "UI_COOKIE_SECURE",
        "auto",
        "`auto` (Secure when the request came over TLS), `true` (e.g. TLS terminated before Nginx), `false`",
        choices=UI_COOKIE_SECURE,
        case="lower",
        blank_default=True,
    )
    ui_session_hours: float = setting("UI_SESSION_HOURS", 8.0, "lifetime of a dashboard sign-in", minimum=0.1)
    page_limit_default: int = setting("PAGE_LIMIT_DEFAULT", 100, "page size when `limit` is not given", minimum=1)
    page_limit_max: int = setting("PAGE_LIMIT_MAX", 1000, "largest `limit` accepted", minimum=1)
    trusted_proxy_hops: int = setting("TRUSTED_PROXY_HOPS", 1, "how many `X-Forwarded-For` hops to trust (Nginx)")
    log_level: str = setting(
        "LOG_LEVEL", "INFO", "`DEBUG`, `INFO`, `WARNING`, `ERROR`", choices=LOG_LEVELS, case="upper"
    )
    database_url: str = database_setting()
    waiver_file: str = setting(
        "WAIVER_FILE",
        "",
        "posture waiver file ([Posture](POSTURE.md)), validated at startup: a malformed one stops the API",
        shown="empty (no waivers)",
    )
    allow_self_waivers: bool = setting(
        "ALLOW_SELF_WAIVERS", False, "let containers waive rules for themselves (label/annotation)"
    )
    version: str = setting(
        "APP_VERSION", "0.0.0-dev", "the version the API reports (health, metrics, dashboard); set by the image"
    )
    git_sha: str = setting("GIT_SHA", "unknown", "git revision of the build (set by the image)")
    build_time: str = setting("BUILD_TIME", "unknown", "build time (set by the image)")


@dataclass(frozen=True)
class SingleSource:
    """The one source the classic variables describe when SOURCES_FILE is empty (what ``make up`` runs)."""

    name: str = setting("SOURCE_NAME", "local", "name of the single source")
    backend: str = setting("INVENTORY_BACKEND", "docker", "`docker` or `kubernetes`", choices=BACKENDS, case="lower")
    docker_host: str = setting(
        "DOCKER_HOST",
        "unix:///var/run/docker.sock",
        "engine URL (`unix://`, `tcp://`); the stack uses `tcp://socket-proxy:2375`. Podman's Docker-compatible API "
        "works too",
        convert=_engine_url,
    )
    docker_tls_verify: str = setting(
        "DOCKER_TLS_VERIFY",
        "",
        "mutual TLS to a socket proxy when set (not `0`): Docker's own variable",
        shown="unset",
    )
    docker_cert_path: str = setting(
        "DOCKER_CERT_PATH", "", "directory with `ca.pem`, `cert.pem`, `key.pem` for `DOCKER_TLS_VERIFY`", shown="unset"
    )
    k8s_namespaces: tuple[str, ...] = setting(
        "K8S_NAMESPACES", (), "comma-separated namespaces for the Kubernetes backend", shown="empty (all)"
    )
    k8s_in_cluster: bool = setting(
        "K8S_IN_CLUSTER",
        True,
        "use the pod's ServiceAccount (`false`: kubeconfig from `KUBECONFIG` or `~/.kube/config`)",
    )
    k8s_context: str = setting(
        "K8S_CONTEXT", "", "kubeconfig context when `K8S_IN_CLUSTER=false`", shown="empty (current-context)"
    )
    k8s_api_url: str = setting(
        "K8S_API_URL", "", "plain API server URL instead of a ServiceAccount or kubeconfig (tests, `kubectl proxy`)"
    )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise ConfigError with a one-line message."""
    settings = load(Settings, os.environ if env is None else env)
    if settings.page_limit_default > settings.page_limit_max:
        raise ConfigError(
            f"PAGE_LIMIT_DEFAULT={settings.page_limit_default} exceeds PAGE_LIMIT_MAX={settings.page_limit_max}"
        )
    return settings


def load_single_source(env: Mapping[str, str] | None = None) -> SingleSource:
    return load(SingleSource, os.environ if env is None else env)
