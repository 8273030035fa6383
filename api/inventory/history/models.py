"""SQLAlchemy 2 models of the change history (the Alembic migrations create exactly these tables).

Times are naive UTC everywhere (SQLite has no time zones; PostgreSQL gets ``timestamp without time zone``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# BIGINT identity on PostgreSQL, INTEGER PRIMARY KEY (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Change(Base):
    """One recorded change; append-only (retention deletes old rows)."""

    __tablename__ = "history_change"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # public id and webhook idempotency key
    at: Mapped[dt.datetime] = mapped_column(DateTime())
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64))
    container_id: Mapped[str] = mapped_column(String(128))
    container_name: Mapped[str] = mapped_column(String(256))
    workload: Mapped[str] = mapped_column(String(512))
    rule: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str | None] = mapped_column(String(16))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    old: Mapped[str | None] = mapped_column(String(512))
    new: Mapped[str | None] = mapped_column(String(512))
    while_away: Mapped[bool] = mapped_column(Boolean(), default=False)
    # Hash chain (inventory.history.chain): the previous row's hash and this row's, set by the recorder.
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        Index("ix_history_change_at", "at", "id"),
        Index("ix_history_change_kind", "kind", "id"),
        Index("ix_history_change_container_id", "container_id", "id"),
        Index("ix_history_change_container_name", "container_name", "id"),
        Index("ix_history_change_workload", "workload", "id"),
        Index("ix_history_change_rule", "rule", "id"),
    )


class ContainerState(Base):
    """The last recorded state of each container: what the recorder diffs against after a restart."""

    __tablename__ = "history_container"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    container_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    workload: Mapped[str] = mapped_column(String(512))
    image: Mapped[str] = mapped_column(String(512))
    image_id: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(32))
    health: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[str | None] = mapped_column(String(64))
    restart_count: Mapped[int | None] = mapped_column(Integer())


class FindingState(Base):
    """Open (or waived) findings by stable fingerprint (source, workload identity, rule)."""

    __tablename__ = "history_finding"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    workload: Mapped[str] = mapped_column(String(512))
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    waived: Mapped[bool] = mapped_column(Boolean(), default=False)
    waiver_expires: Mapped[dt.datetime | None] = mapped_column(DateTime())
    container_id: Mapped[str] = mapped_column(String(128))
    container_name: Mapped[str] = mapped_column(String(256))


class PostureSample(Base):
    """Open (unwaived) findings by severity, written whenever the totals change."""

    __tablename__ = "history_posture_sample"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(), index=True)
    critical: Mapped[int] = mapped_column(Integer())
    high: Mapped[int] = mapped_column(Integer())
    medium: Mapped[int] = mapped_column(Integer())
    low: Mapped[int] = mapped_column(Integer())
    waived: Mapped[int] = mapped_column(Integer())


class RecorderMeta(Base):
    """Key/value facts about the recorder (last completed cycle, ...)."""

    __tablename__ = "history_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


TABLES = tuple(sorted(Base.metadata.tables))
