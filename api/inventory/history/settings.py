"""Recorder and webhook settings from environment variables (the API needs only DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import ConfigError, _float, _int
from ..posture import SEVERITIES
from .db import DEFAULT_URL, DatabaseUrlError, normalise_url

WEBHOOK_SEVERITIES = (*SEVERITIES, "INFO")  # INFO: container lifecycle changes (no rule, no severity)


@dataclass(frozen=True)
class RecorderSettings:
    database_url: str = DEFAULT_URL
    retention_days: int = 90
    interval: float = 5.0
    metrics_port: int = 9101
    webhook_url: str = ""
    webhook_secret_file: str = ""
    webhook_min_severity: str = "HIGH"
    webhook_max_attempts: int = 6
    webhook_backoff: float = 0.5
    webhook_timeout: float = 5.0


def database_url(env: Mapping[str, str]) -> str:
    try:
        return normalise_url(env.get("DATABASE_URL") or DEFAULT_URL)
    except DatabaseUrlError as exc:
        raise ConfigError(str(exc)) from None


def load_recorder_settings(env: Mapping[str, str] | None = None) -> RecorderSettings:
    env = os.environ if env is None else env
    url = env.get("WEBHOOK_URL", "").strip()
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("WEBHOOK_URL must start with http:// or https://")
    secret_file = env.get("WEBHOOK_SECRET_FILE", "").strip()
    if url and not secret_file:
        raise ConfigError("WEBHOOK_URL is set but WEBHOOK_SECRET_FILE is not (deliveries are always signed)")
    severity = env.get("WEBHOOK_MIN_SEVERITY", "HIGH").strip().upper()
    if severity not in WEBHOOK_SEVERITIES:
        raise ConfigError(f"WEBHOOK_MIN_SEVERITY={severity!r} is not one of {', '.join(WEBHOOK_SEVERITIES)}")
    return RecorderSettings(
        database_url=database_url(env),
        retention_days=_int(env, "HISTORY_RETENTION_DAYS", 90, minimum=1),
        interval=_float(env, "RECORDER_INTERVAL", 5.0, minimum=0.05),
        metrics_port=_int(env, "RECORDER_METRICS_PORT", 9101, minimum=0),
        webhook_url=url,
        webhook_secret_file=secret_file,
        webhook_min_severity=severity,
        webhook_max_attempts=_int(env, "WEBHOOK_MAX_ATTEMPTS", 6, minimum=1),
        webhook_backoff=_float(env, "WEBHOOK_BACKOFF", 0.5, minimum=0.01),
        webhook_timeout=_float(env, "WEBHOOK_TIMEOUT", 5.0, minimum=0.1),
    )
