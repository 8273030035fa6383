"""gunicorn entry point: ``gunicorn inventory.wsgi:app``. Bad config exits with one line."""

from __future__ import annotations

import sys

from .config import ConfigError
from .wiring import configure

try:
    _config = configure()
except ConfigError as exc:
    print(f"inventory: invalid configuration: {exc}", file=sys.stderr)
    sys.exit(2)

from .app import create_app

app = create_app(_config)
# Each gunicorn worker imports this module after the fork: start its live-state thread now, so
# the worker is synced before its first request.
app.extensions["inventory"].start()
