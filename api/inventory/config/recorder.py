"""The recorder's and its webhook's settings, declared once (see ``declare``); the API needs only DATABASE_URL."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .database import database_setting
from .declare import ConfigError, load, setting

# The posture severities (inventory.posture.SEVERITIES, a test keeps them equal) and INFO: container lifecycle
# changes (no rule, no severity).
WEBHOOK_SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")


REPORT_MAX_BYTES = 16 * 1024 * 1024  # default size limit of one vulnerability report (inventory.vulns)


def _reports_dir(path: str) -> str:
    if path and not os.path.isabs(path):
        raise ConfigError(f"REPORTS_DIR={path!r} must be an absolute path")
    return path


def _webhook_url(url: str) -> str:
    if url and not url.startswith(("http://", "https://")):  # empty: no webhook (compose passes WEBHOOK_URL="")
        raise ConfigError("WEBHOOK_URL must start with http:// or https://")
    return url


@dataclass(frozen=True)
class RecorderSettings:
    database_url: str = database_setting()
    retention_days: int = setting(
        "HISTORY_RETENTION_DAYS", 90, "changes and trend samples older than this are deleted (hourly)", minimum=1
    )
    interval: float = setting(
        "RECORDER_INTERVAL",
        5.0,
        "longest wait between two looks when the live state does not change (changes wake it at once)",
        minimum=0.05,
    )
    metrics_port: int = setting("RECORDER_METRICS_PORT", 9101, "Prometheus metrics (0 = off)")
    reports_dir: str = setting(
        "REPORTS_DIR",
        "",
        "vulnerability reports directory the recorder watches (absolute path; docs/VULNERABILITIES.md)",
        convert=_reports_dir,
        shown="empty (off)",
    )
    report_max_bytes: int = setting(
        "REPORT_MAX_BYTES", REPORT_MAX_BYTES, "size limit of one vulnerability report, in bytes", minimum=1024
    )
    webhook_url: str = setting("WEBHOOK_URL", "", "where to POST changes", convert=_webhook_url, shown="empty (off)")
    webhook_secret_file: str = setting(
        "WEBHOOK_SECRET_FILE",
        "",
        "file holding the HMAC key (a Secret volume); re-read on every delivery",
        shown="— (required with a URL)",
    )
    webhook_min_severity: str = setting(
        "WEBHOOK_MIN_SEVERITY",
        "HIGH",
        "`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, or `INFO` (also container lifecycle changes)",
        choices=WEBHOOK_SEVERITIES,
        case="upper",
    )
    webhook_max_attempts: int = setting("WEBHOOK_MAX_ATTEMPTS", 6, "attempts per change", minimum=1)
    webhook_backoff: float = setting(
        "WEBHOOK_BACKOFF", 0.5, "first retry delay in seconds (doubles each time, capped at 60 s)", minimum=0.01
    )
    webhook_timeout: float = setting("WEBHOOK_TIMEOUT", 5.0, "seconds per attempt", minimum=0.1)


def load_recorder_settings(env: Mapping[str, str] | None = None) -> RecorderSettings:
    """Read and validate the recorder's settings; raise ConfigError with a one-line message."""
    rec = load(RecorderSettings, os.environ if env is None else env)
    if rec.webhook_url and not rec.webhook_secret_file:
        raise ConfigError("WEBHOOK_URL is set but WEBHOOK_SECRET_FILE is not (deliveries are always signed)")
    return rec
