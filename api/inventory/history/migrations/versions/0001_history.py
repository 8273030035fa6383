"""History tables: changes, last container state, open findings, posture samples, recorder meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "history_change",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("container_id", sa.String(128), nullable=False),
        sa.Column("container_name", sa.String(256), nullable=False),
        sa.Column("workload", sa.String(512), nullable=False),
        sa.Column("rule", sa.String(64)),
        sa.Column("severity", sa.String(16)),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("old", sa.String(512)),
        sa.Column("new", sa.String(512)),
        sa.Column("while_away", sa.Boolean(), nullable=False),
    )
    for name, cols in (
        ("at", ["at", "id"]),
        ("kind", ["kind", "id"]),
        ("container_id", ["container_id", "id"]),
        ("container_name", ["container_name", "id"]),
        ("workload", ["workload", "id"]),
        ("rule", ["rule", "id"]),
    ):
        op.create_index(f"ix_history_change_{name}", "history_change", cols)
    op.create_table(
        "history_container",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("container_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("workload", sa.String(512), nullable=False),
        sa.Column("image", sa.String(512), nullable=False),
        sa.Column("image_id", sa.String(256), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(64)),
        sa.Column("restart_count", sa.Integer()),
    )
    op.create_table(
        "history_finding",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("workload", sa.String(512), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("waived", sa.Boolean(), nullable=False),
        sa.Column("waiver_expires", sa.DateTime()),
        sa.Column("container_id", sa.String(128), nullable=False),
        sa.Column("container_name", sa.String(256), nullable=False),
    )
    op.create_table(
        "history_posture_sample",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("critical", sa.Integer(), nullable=False),
        sa.Column("high", sa.Integer(), nullable=False),
        sa.Column("medium", sa.Integer(), nullable=False),
        sa.Column("low", sa.Integer(), nullable=False),
        sa.Column("waived", sa.Integer(), nullable=False),
    )
    op.create_index("ix_history_posture_sample_at", "history_posture_sample", ["at"])
    op.create_table(
        "history_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    for table in ("history_meta", "history_posture_sample", "history_finding", "history_container", "history_change"):
        op.drop_table(table)
