"""Alembic environment: run with the connection db.migrate() hands over (never reads alembic.ini)."""

from __future__ import annotations

from alembic import context

from inventory.history.models import Base
from inventory.vulns import tables as _vulns_tables  # noqa: F401 (registers the image report tables on Base)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
