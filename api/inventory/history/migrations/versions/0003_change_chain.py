"""Hash chain of the change table: prev_hash and hash on every change, the chain's anchor and head in history_meta.

Existing rows are linked in id order, from the genesis hash, exactly as the recorder links new ones
(inventory.history.chain). Downgrade drops the columns and the two meta keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from inventory.history.chain import ANCHOR_KEY, CONTENT, GENESIS, HEAD_KEY, Head, content_of, link

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("history_change") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=False, server_default=""))
    bind = op.get_bind()
    # Typed as the model types them, so `at` is a datetime and `while_away` a bool on both databases.
    columns: list[sa.ColumnClause[Any]] = [
        sa.column(c, sa.DateTime() if c == "at" else sa.Boolean() if c == "while_away" else sa.String())
        for c in CONTENT
    ]
    change = sa.table(
        "history_change", sa.column("id", sa.Integer()), sa.column("prev_hash"), sa.column("hash"), *columns
    )
    meta = sa.table("history_meta", sa.column("key"), sa.column("value"))
    prev, last_id, after = GENESIS, None, 0
    while True:
        rows = bind.execute(sa.select(change).where(change.c.id > after).order_by(change.c.id).limit(BATCH)).all()
        if not rows:
            break
        updates = []
        for row in rows:
            digest = link(prev, row.id, content_of(row))
            updates.append({"row_id": row.id, "p": prev, "h": digest})
            prev, last_id = digest, row.id
        bind.execute(
            change.update().where(change.c.id == sa.bindparam("row_id")).values(prev_hash=sa.bindparam("p"),
                                                                                hash=sa.bindparam("h")),
            updates,
        )  # fmt: skip
        after = rows[-1].id
    bind.execute(meta.delete().where(meta.c.key.in_([ANCHOR_KEY, HEAD_KEY])))
    bind.execute(meta.insert(), [{"key": ANCHOR_KEY, "value": GENESIS}])
    if last_id is not None:
        bind.execute(meta.insert(), [{"key": HEAD_KEY, "value": Head(last_id, prev).encode()}])


def downgrade() -> None:
    with op.batch_alter_table("history_change") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    meta = sa.table("history_meta", sa.column("key"), sa.column("value"))
    op.get_bind().execute(meta.delete().where(meta.c.key.in_([ANCHOR_KEY, HEAD_KEY])))
