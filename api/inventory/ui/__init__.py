"""The dashboard: a server-rendered UI under /ui/ (Jinja templates, one stylesheet, SVG charts, no JavaScript).

It reads only through InventoryService (and the history query layer when present) and has no route that
changes anything on a host: every page is GET; the only POSTs are sign-in and sign-out.
"""

from __future__ import annotations

from flask import Flask

from ..auth import TokenFile
from ..config import Settings
from .session import init_session
from .views import ui

__all__ = ["init_ui", "ui"]


def init_ui(app: Flask, settings: Settings, token: TokenFile) -> None:
    init_session(app, settings, token)
    app.register_blueprint(ui)
