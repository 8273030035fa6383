"""Vulnerability reports per image digest (issue 18): the current report, its digests and its findings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "image_report",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("digest", sa.String(71), nullable=False, unique=True),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("scanner", sa.String(64), nullable=False),
        sa.Column("scanner_version", sa.String(64), nullable=False),
        sa.Column("db_version", sa.String(128)),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.Column("stored_at", sa.DateTime(), nullable=False),
        sa.Column("origin", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        *(sa.Column(n, sa.Integer(), nullable=False) for n in ("critical", "high", "medium", "low", "unknown")),
        sa.Column("fixable", sa.Integer(), nullable=False),
        sa.Column("not_counted", sa.Integer(), nullable=False),
    )
    op.create_table(
        "image_report_digest",
        sa.Column("digest", sa.String(71), primary_key=True),
        sa.Column("report_id", BIG_ID, sa.ForeignKey("image_report.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_index("ix_image_report_digest_report", "image_report_digest", ["report_id"])
    op.create_table(
        "image_finding",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("report_id", BIG_ID, sa.ForeignKey("image_report.id", ondelete="CASCADE"), nullable=False),
        sa.Column("vuln_id", sa.String(128), nullable=False),
        sa.Column("package", sa.String(256), nullable=False),
        sa.Column("installed", sa.String(256), nullable=False),
        sa.Column("fixed", sa.String(256)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("vex_state", sa.String(32)),
        sa.Column("justification", sa.String(512)),
    )
    op.create_index("ix_image_finding_report", "image_finding", ["report_id"])


def downgrade() -> None:
    for table in ("image_finding", "image_report_digest", "image_report"):
        op.drop_table(table)
