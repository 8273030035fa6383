"""Read side of the image reports, the bottom of the join to running containers: which report covers a
container's image (by any of its digests), its counts, fixes, scan age and the VEX entries listed, not counted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .model import NOT_COUNTED, SEVERITIES, digests
from .tables import ImageDigestRow, ImageFindingRow, ImageReportRow


@dataclass(frozen=True)
class NotCounted:
    vuln_id: str
    package: str
    vex_state: str
    justification: str | None


@dataclass(frozen=True)
class ImageVulns:
    digest: str
    scanner: str
    scanner_version: str
    db_version: str | None
    scanned_at: dt.datetime
    counts: tuple[tuple[str, int], ...]  # (severity, count) in SEVERITIES order
    fixable: int
    not_counted: tuple[NotCounted, ...]

    def age(self, now: dt.datetime) -> dt.timedelta:
        return now - self.scanned_at


def image_digests(image_id: str | None, repo_digests: Iterable[str] = ()) -> tuple[str, ...]:
    """A container's digests: Docker's image id and `RepoDigests`, or Kubernetes' `imageID`
    (`docker-pullable://repo@sha256:...`, `repo@sha256:...`)."""
    return digests(image_id, *repo_digests)


def image_vulns(engine: Engine, digests: Iterable[str]) -> dict[str, ImageVulns]:
    """For each digest that a stored report covers: that report's summary (one query per table)."""
    wanted = list(dict.fromkeys(digests))
    if not wanted:
        return {}
    with Session(engine) as s:
        links = {
            d.digest: d.report_id for d in s.scalars(select(ImageDigestRow).where(ImageDigestRow.digest.in_(wanted)))
        }
        ids = set(links.values())
        if not ids:
            return {}
        reports = {r.id: r for r in s.scalars(select(ImageReportRow).where(ImageReportRow.id.in_(ids)))}
        listed: dict[int, list[NotCounted]] = {}
        quiet = select(ImageFindingRow).where(
            ImageFindingRow.report_id.in_(ids), ImageFindingRow.vex_state.in_(sorted(NOT_COUNTED))
        )
        for f in s.scalars(quiet.order_by(ImageFindingRow.id)):
            listed.setdefault(f.report_id, []).append(
                NotCounted(f.vuln_id, f.package, f.vex_state or "", f.justification)
            )
        out = {}
        for digest, rid in links.items():
            r = reports[rid]
            counts = tuple((sev, int(getattr(r, sev.lower()))) for sev in SEVERITIES)
            out[digest] = ImageVulns(
                r.digest,
                r.scanner,
                r.scanner_version,
                r.db_version,
                r.scanned_at,
                counts,
                r.fixable,
                tuple(listed.get(rid, ())),
            )
        return out
