"""Write side of the image reports: one transaction per report; a newer report of the same image replaces the
stored one and the replacement is a change row (kind report_replaced; the first one report_stored)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from ..history.models import Change
from .model import SEVERITIES, ImageReport
from .tables import ImageDigestRow, ImageFindingRow, ImageReportRow

STORED, REPLACED, UNCHANGED, OLDER = "stored", "replaced", "unchanged", "older"


@dataclass(frozen=True)
class StoreOutcome:
    status: str  # stored | replaced | unchanged (same bytes) | older (a newer report is already stored)
    digest: str
    change_uid: str | None = None


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _row(report: ImageReport, origin: str, digest_of_bytes: str, now: dt.datetime) -> ImageReportRow:
    counts = report.counts()
    return ImageReportRow(
        digest=report.digest,
        format=report.format,
        scanner=report.scanner[:64],
        scanner_version=report.scanner_version[:64],
        db_version=report.db_version[:128] if report.db_version else None,
        scanned_at=report.scanned_at,
        stored_at=now,
        origin=origin[:512],
        sha256=digest_of_bytes,
        **{s.lower(): counts[s] for s in SEVERITIES},
        fixable=report.fixable(),
        not_counted=sum(1 for f in report.findings if not f.counted),
    )


def _summary(row: ImageReportRow) -> str:
    db = f" db {row.db_version}" if row.db_version else ""
    counts = f"C{row.critical} H{row.high} M{row.medium} L{row.low} U{row.unknown}"
    return f"{row.scanner} {row.scanner_version}{db} at {row.scanned_at.isoformat()}Z: {counts}"[:512]


def store_report(
    engine: Engine, report: ImageReport, raw: bytes, origin: str, now: dt.datetime | None = None
) -> StoreOutcome:
    """Store `report` (parsed from `raw`) unless the same bytes or a newer report of the image are stored."""
    now = now or _utcnow()
    digests = (report.digest, *report.also_known_as)
    fingerprint = sha256(raw)
    with Session(engine) as s, s.begin():
        ids = set(s.scalars(select(ImageDigestRow.report_id).where(ImageDigestRow.digest.in_(digests))))
        ids |= set(s.scalars(select(ImageReportRow.id).where(ImageReportRow.digest.in_(digests))))
        old = list(s.scalars(select(ImageReportRow).where(ImageReportRow.id.in_(ids)))) if ids else []
        if any(o.sha256 == fingerprint for o in old):
            return StoreOutcome(UNCHANGED, report.digest)
        if any(o.scanned_at > report.scanned_at for o in old):
            return StoreOutcome(OLDER, report.digest)
        if ids:
            s.execute(delete(ImageFindingRow).where(ImageFindingRow.report_id.in_(ids)))
            s.execute(delete(ImageDigestRow).where(ImageDigestRow.report_id.in_(ids)))
            s.execute(delete(ImageReportRow).where(ImageReportRow.id.in_(ids)))
            s.flush()
        row = _row(report, origin, fingerprint, now)
        s.add(row)
        s.flush()
        s.add_all(ImageDigestRow(digest=d, report_id=row.id) for d in dict.fromkeys(digests))
        s.add_all(
            ImageFindingRow(
                report_id=row.id,
                vuln_id=f.vuln_id,
                package=f.package,
                installed=f.installed,
                fixed=f.fixed,
                severity=f.severity,
                vex_state=f.vex_state,
                justification=f.justification,
            )
            for f in report.findings
        )
        uid = uuid.uuid4().hex
        change = Change(
            uid=uid,
            at=now,
            kind="report_replaced" if old else "report_stored",
            source="reports",
            container_id="",
            container_name="",
            workload=f"image {report.digest}",
            old=min((_summary(o) for o in old), default=None),
            new=_summary(row),
            while_away=False,
        )
        s.add(change)
    return StoreOutcome(REPLACED if old else STORED, report.digest, uid)
