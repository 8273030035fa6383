"""gunicorn's settings for the flask-api image (read by gunicorn.conf.py), declared like every other setting."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .declare import load, setting

# Inside the container: the compose file and the chart decide what is published; the tmp dir is a tmpfs there.
_ALL_INTERFACES = "0.0.0.0:8000"
_TMPFS = "/tmp"  # noqa: S108  # nosec B108


@dataclass(frozen=True)
class ServerSettings:
    bind: str = setting(
        "BIND",
        _ALL_INTERFACES,
        "address:port gunicorn listens on inside the container",
    )
    workers: int = setting("WEB_CONCURRENCY", 2, "gunicorn worker processes", minimum=1)
    threads: int = setting("GUNICORN_THREADS", 8, "threads per worker (gthread)", minimum=1)
    graceful_timeout: int = setting("GRACEFUL_TIMEOUT", 20, "seconds in-flight requests get after SIGTERM")
    timeout: int = setting("GUNICORN_TIMEOUT", 30, "seconds a silent worker gets before gunicorn restarts it")
    tmp_dir: str = setting(
        "GUNICORN_TMP_DIR",
        _TMPFS,
        "workers' heartbeat files (a tmpfs in the container)",
    )


def load_server_settings(env: Mapping[str, str] | None = None) -> ServerSettings:
    return load(ServerSettings, os.environ if env is None else env)
