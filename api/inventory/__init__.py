"""Container inventory API: what is running here, and is it safe?

The package import stays light on purpose (gunicorn's config imports ``inventory.config``
in the master process, before metrics may be created). ``create_app`` lives in ``app.py``;
gunicorn loads ``inventory.wsgi:app``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
