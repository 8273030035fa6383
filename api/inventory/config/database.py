"""DATABASE_URL, checked at startup: SQLite or PostgreSQL (always through psycopg 3); never echoes a password."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .declare import ConfigError, setting

DEFAULT_URL = "sqlite:////var/lib/inventory/history.db"


class DatabaseUrlError(ConfigError):
    """DATABASE_URL is not a URL we can use (the message never contains the password)."""


def normalise_url(raw: str) -> str:
    """Accept sqlite:///path and postgres(ql)://...; PostgreSQL always goes through psycopg 3."""
    raw = raw.strip()
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    try:
        url = make_url(raw)
    except ArgumentError:
        raise DatabaseUrlError("DATABASE_URL is not a database URL (sqlite:///path or postgresql://...)") from None
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    elif url.get_backend_name() != "sqlite":
        raise DatabaseUrlError(f"DATABASE_URL: unsupported database {url.get_backend_name()!r} (sqlite or postgresql)")
    return url.render_as_string(hide_password=False)


def database_setting() -> Any:
    """DATABASE_URL, declared once for the API (reads) and the recorder (writes)."""
    return setting(
        "DATABASE_URL",
        DEFAULT_URL,
        "history database: `sqlite:///<path>` or `postgresql://USER@HOST:5432/DB` (the full URL, password "
        "included, comes from a Secret; libpq also reads `PGPASSWORD`), driven through psycopg 3; the password "
        "never appears in logs or messages. Read by the API and `invops`, written by the recorder "
        "([History](HISTORY.md))",
        blank_default=True,
        convert=normalise_url,
    )
