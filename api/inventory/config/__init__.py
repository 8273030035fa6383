"""Configuration at the ground floor: every setting declared once, read from the environment by one loader.

``Settings`` (the API and the recorder), ``SingleSource`` (the classic single-source variables),
``RecorderSettings`` (the recorder and its webhook), ``ServerSettings`` (gunicorn). This package imports nothing
else from ``inventory`` (its docs generator: ``inventory.docblock``): gunicorn's master imports it before any
worker starts.
"""

from __future__ import annotations

from .database import DEFAULT_URL, DatabaseUrlError, normalise_url
from .declare import ConfigError, Var, declared, load, read, setting
from .recorder import WEBHOOK_SEVERITIES, RecorderSettings, load_recorder_settings
from .server import ServerSettings, load_server_settings
from .settings import BACKENDS, Settings, SingleSource, load_settings, load_single_source

__all__ = [
    "BACKENDS",
    "DEFAULT_URL",
    "WEBHOOK_SEVERITIES",
    "ConfigError",
    "DatabaseUrlError",
    "RecorderSettings",
    "ServerSettings",
    "Settings",
    "SingleSource",
    "Var",
    "declared",
    "load",
    "load_recorder_settings",
    "load_server_settings",
    "load_settings",
    "load_single_source",
    "normalise_url",
    "read",
    "setting",
]
