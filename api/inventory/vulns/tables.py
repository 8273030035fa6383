"""History database tables of the image reports (created by migration 0002, on the history models' Base)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..history.models import Base, BigId


class ImageReportRow(Base):
    """The current report of one image (a newer one replaces it); counts exclude VEX not_affected & co."""

    __tablename__ = "image_report"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(71), unique=True)
    format: Mapped[str] = mapped_column(String(32))
    scanner: Mapped[str] = mapped_column(String(64))
    scanner_version: Mapped[str] = mapped_column(String(64))
    db_version: Mapped[str | None] = mapped_column(String(128))
    scanned_at: Mapped[dt.datetime] = mapped_column(DateTime())
    stored_at: Mapped[dt.datetime] = mapped_column(DateTime())
    origin: Mapped[str] = mapped_column(String(512))  # reports-dir file name or "api"
    sha256: Mapped[str] = mapped_column(String(64))  # of the report bytes: an unchanged file is not re-stored
    critical: Mapped[int] = mapped_column(Integer())
    high: Mapped[int] = mapped_column(Integer())
    medium: Mapped[int] = mapped_column(Integer())
    low: Mapped[int] = mapped_column(Integer())
    unknown: Mapped[int] = mapped_column(Integer())
    fixable: Mapped[int] = mapped_column(Integer())
    not_counted: Mapped[int] = mapped_column(Integer())


class ImageDigestRow(Base):
    """Every digest naming a reported image (its id and its RepoDigests) -> the report: the join key."""

    __tablename__ = "image_report_digest"

    digest: Mapped[str] = mapped_column(String(71), primary_key=True)
    report_id: Mapped[int] = mapped_column(BigId, ForeignKey("image_report.id", ondelete="CASCADE"))

    __table_args__ = (Index("ix_image_report_digest_report", "report_id"),)


class ImageFindingRow(Base):
    __tablename__ = "image_finding"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(BigId, ForeignKey("image_report.id", ondelete="CASCADE"))
    vuln_id: Mapped[str] = mapped_column(String(128))
    package: Mapped[str] = mapped_column(String(256))
    installed: Mapped[str] = mapped_column(String(256))
    fixed: Mapped[str | None] = mapped_column(String(256))
    severity: Mapped[str] = mapped_column(String(16))
    vex_state: Mapped[str | None] = mapped_column(String(32))
    justification: Mapped[str | None] = mapped_column(String(512))

    __table_args__ = (Index("ix_image_finding_report", "report_id"),)


TABLES = ("image_finding", "image_report", "image_report_digest")
