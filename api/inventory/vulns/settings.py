"""Settings of the image reports (environment variables; the recorder reads them at start)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import ConfigError
from .parse import DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class VulnSettings:
    reports_dir: str = ""  # watched by the recorder; empty: no directory is watched
    max_bytes: int = DEFAULT_MAX_BYTES


def load_vuln_settings(env: Mapping[str, str] | None = None) -> VulnSettings:
    env = os.environ if env is None else env
    raw = env.get("REPORT_MAX_BYTES", "").strip()
    max_bytes = DEFAULT_MAX_BYTES
    if raw:
        try:
            max_bytes = int(raw)
        except ValueError:
            raise ConfigError(f"REPORT_MAX_BYTES={raw!r} is not an integer") from None
        if max_bytes < 1024:
            raise ConfigError(f"REPORT_MAX_BYTES={raw!r} must be >= 1024")
    reports_dir = env.get("REPORTS_DIR", "").strip()
    if reports_dir and not os.path.isabs(reports_dir):
        raise ConfigError(f"REPORTS_DIR={reports_dir!r} must be an absolute path")
    return VulnSettings(reports_dir=reports_dir, max_bytes=max_bytes)
