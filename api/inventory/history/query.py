"""The read side for the API: paged changes, a container's history, the posture trend.

Any database failure becomes ``HistoryUnavailable`` (the views answer 503) so listing and posture, which
never touch the database, keep working.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine, Select, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..posture import SEVERITIES
from .db import make_engine
from .models import Change, PostureSample
from .store import ChangeRecord, iso

BUCKETS = {"raw": None, "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}
MAX_POINTS = 1000


class HistoryUnavailable(Exception):
    """The history database cannot be reached, or is not initialised."""


@dataclass(frozen=True)
class ChangeFilter:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    container: str | None = None
    rule: str | None = None
    kind: str | None = None
    limit: int = 100
    after: int | None = None  # cursor: the last id of the previous page
    newest_first: bool = True


@dataclass(frozen=True)
class ChangePage:
    items: list[ChangeRecord]
    next_cursor_id: int | None


@dataclass(frozen=True)
class TrendPoint:
    at: dt.datetime
    totals: dict[str, int]
    waived: int

    def to_dict(self) -> dict[str, object]:
        return {"at": iso(self.at), "totals": self.totals, "waived": self.waived}


@dataclass(frozen=True)
class Trend:
    since: dt.datetime
    until: dt.datetime
    bucket: str
    points: list[TrendPoint] = field(default_factory=list)


def _sample_point(at: dt.datetime, s: PostureSample | None) -> TrendPoint:
    if s is None:
        return TrendPoint(at, {sev: 0 for sev in SEVERITIES}, 0)
    values = (s.critical, s.high, s.medium, s.low)
    return TrendPoint(at, dict(zip(SEVERITIES, values, strict=True)), s.waived)


class HistoryQueries:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.url, writer=False)
            return self._engine

    def _page(self, stmt: Select[tuple[Change]], limit: int, after: int | None, newest_first: bool) -> ChangePage:
        if after is not None:
            stmt = stmt.where(Change.id < after if newest_first else Change.id > after)
        stmt = stmt.order_by(Change.id.desc() if newest_first else Change.id.asc()).limit(limit + 1)
        try:
            with Session(self.engine) as s:
                rows = [ChangeRecord.from_row(r) for r in s.scalars(stmt)]
        except SQLAlchemyError as exc:
            raise HistoryUnavailable(f"history database unavailable ({type(exc).__name__})") from None
        more = len(rows) > limit
        rows = rows[:limit]
        return ChangePage(rows, rows[-1].id if more and rows else None)

    def changes(self, f: ChangeFilter) -> ChangePage:
        stmt = select(Change)
        if f.since is not None:
            stmt = stmt.where(Change.at >= f.since)
        if f.until is not None:
            stmt = stmt.where(Change.at < f.until)
        if f.kind:
            stmt = stmt.where(Change.kind == f.kind)
        if f.rule:
            stmt = stmt.where(Change.rule == f.rule)
        if f.container:
            stmt = stmt.where(
                or_(
                    Change.container_id == f.container,
                    Change.container_name == f.container,
                    Change.workload == f.container,
                    *([Change.container_id.startswith(f.container, autoescape=True)] if len(f.container) >= 3 else []),
                )
            )
        return self._page(stmt, f.limit, f.after, f.newest_first)

    def workloads_of(self, ref: str) -> list[str]:
        """Workload identities a (possibly gone) container was recorded under, by id, id prefix or name."""
        conds = [Change.container_id == ref, Change.container_name == ref]
        if len(ref) >= 3:
            conds.append(Change.container_id.startswith(ref, autoescape=True))
        stmt = select(Change.workload).where(or_(*conds)).distinct().limit(20)
        try:
            with Session(self.engine) as s:
                return sorted(s.scalars(stmt))
        except SQLAlchemyError as exc:
            raise HistoryUnavailable(f"history database unavailable ({type(exc).__name__})") from None

    def history(self, workloads: list[str], ids: list[str], limit: int, after: int | None) -> ChangePage:
        stmt = select(Change).where(or_(Change.workload.in_(workloads), Change.container_id.in_(ids)))
        return self._page(stmt, limit, after, newest_first=True)

    def trend(self, since: dt.datetime, until: dt.datetime, bucket: str) -> Trend:
        step = BUCKETS[bucket]
        try:
            with Session(self.engine) as s:
                base = s.scalar(
                    select(PostureSample).where(PostureSample.at <= since).order_by(PostureSample.id.desc()).limit(1)
                )
                samples = list(
                    s.scalars(
                        select(PostureSample)
                        .where(PostureSample.at > since, PostureSample.at <= until)
                        .order_by(PostureSample.id.asc())
                    )
                )
        except SQLAlchemyError as exc:
            raise HistoryUnavailable(f"history database unavailable ({type(exc).__name__})") from None
        points = [_sample_point(since, base)]
        if step is None:
            points += [_sample_point(x.at, x) for x in samples[-(MAX_POINTS - 1) :]]
            return Trend(since, until, bucket, points)
        current, i = base, 0
        edge = since + step
        while edge < until + step and len(points) < MAX_POINTS:
            end = min(edge, until)
            while i < len(samples) and samples[i].at <= end:
                current, i = samples[i], i + 1
            points.append(_sample_point(end, current))
            edge += step
        return Trend(since, until, bucket, points)
