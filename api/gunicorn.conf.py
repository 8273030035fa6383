"""gunicorn settings for the flask-api image; every value can be overridden by env."""

from __future__ import annotations

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inventory.config import ConfigError, load_server_settings
from inventory.wiring import configure

# Validate configuration in the master, before any worker boots: one clear line, exit 2.
try:
    _app = configure()
    _server = load_server_settings()
except ConfigError as exc:
    print(f"inventory: invalid configuration: {exc}", file=sys.stderr)
    sys.exit(2)

bind = _server.bind
workers = _server.workers
worker_class = "gthread"
threads = _server.threads
# Graceful shutdown: on SIGTERM workers finish in-flight requests for up to this long.
graceful_timeout = _server.graceful_timeout
timeout = _server.timeout
# Longer than Nginx's upstream keepalive_timeout so Nginx closes idle connections first.
keepalive = 75
# Above Nginx's 8 KiB request-line/header buffers, so over-long requests get Nginx's JSON
# 414/431 instead of gunicorn's plain-text 400.
limit_request_line = 8190
limit_request_field_size = 16380
worker_tmp_dir = _server.tmp_dir
# No runtime-management socket inside the container (and the rootfs is read-only anyway).
control_socket_disable = True
accesslog = None  # the app logs one JSON line per request itself
errorlog = "-"
loglevel = _app.settings.log_level.lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "inventory.logs.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}

_MULTIPROC = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def on_starting(server: object) -> None:
    # Stale files from a previous run would be summed into the new one's counters.
    if _MULTIPROC:
        shutil.rmtree(_MULTIPROC, ignore_errors=True)
        os.makedirs(_MULTIPROC, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    if _MULTIPROC:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
