"""Engines and Alembic migrations (shipped inside this package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ..config import normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def redacted(url: str) -> str:
    """The URL for logs and messages: never the password."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_writer_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # persistent: readers (the API) never block the recorder
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, connect_timeout: float = 2.0, writer: bool = True) -> Engine:
    """An engine with short timeouts, so a dead database turns into a quick error, not a hang."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # `timeout` is SQLite's busy timeout; readers only wait for a lock, they never change the file mode.
        engine = create_engine(url, connect_args={"timeout": connect_timeout}, pool_pre_ping=True)
        if writer:
            event.listen(engine, "connect", _sqlite_writer_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=4,
        max_overflow=4,
        pool_timeout=connect_timeout,
        connect_args={"connect_timeout": max(1, int(connect_timeout)), "application_name": "container-inventory"},
    )


def _alembic(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = _alembic(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    cfg = _alembic(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic(None)).get_current_head()  # type: ignore[arg-type]
