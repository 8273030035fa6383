"""The read side for the API: paged changes, a container's history, the posture trend.

Any database failure becomes ``HistoryUnavailable`` (the views answer 503) so listing and posture, which
never touch the database, keep working.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CompoundSelect, Engine, Select, select, union_all
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..posture import SEVERITIES
from .db import make_engine
from .models import PostureSample
from .records import COLUMNS, ChangeRecord, T

HEX_PREFIX = re.compile(r"^[0-9a-f]{3,64}$")
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


def _ids_for_container(ref: str) -> CompoundSelect[int]:
    """Ids of the rows about one container, each branch on its own index (a plain OR would scan the table)."""
    parts = [
        select(T.c.id).where(T.c.container_id == ref),
        select(T.c.id).where(T.c.container_name == ref),
        select(T.c.id).where(T.c.workload == ref),
    ]
    if HEX_PREFIX.match(ref):  # id prefix as an index range (LIKE cannot use the index on PostgreSQL)
        parts.append(select(T.c.id).where(T.c.container_id >= ref, T.c.container_id < ref + "g"))
    return union_all(*parts)


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

    def _page(self, stmt: Select[*tuple[Any, ...]], limit: int, after: int | None, newest_first: bool) -> ChangePage:
        if after is not None:
            stmt = stmt.where(T.c.id < after if newest_first else T.c.id > after)
        stmt = stmt.order_by(T.c.id.desc() if newest_first else T.c.id.asc()).limit(limit + 1)
        try:
            with self.engine.connect() as conn:
                rows = [ChangeRecord(*r) for r in conn.execute(stmt)]
        except SQLAlchemyError as exc:
            raise HistoryUnavailable(f"history database unavailable ({type(exc).__name__})") from None
        more = len(rows) > limit
        rows = rows[:limit]
        return ChangePage(rows, rows[-1].id if more and rows else None)

    def changes(self, f: ChangeFilter) -> ChangePage:
        stmt = select(*COLUMNS)
        if f.since is not None:
            stmt = stmt.where(T.c.at >= f.since)
        if f.until is not None:
            stmt = stmt.where(T.c.at < f.until)
        if f.kind:
            stmt = stmt.where(T.c.kind == f.kind)
        if f.rule:
            stmt = stmt.where(T.c.rule == f.rule)
        if f.container:
            stmt = stmt.where(T.c.id.in_(_ids_for_container(f.container)))
        return self._page(stmt, f.limit, f.after, f.newest_first)

    def workloads_of(self, ref: str) -> list[str]:
        """Workload identities a (possibly gone) container was recorded under, by id, id prefix or name."""
        stmt = select(T.c.workload).where(T.c.id.in_(_ids_for_container(ref))).distinct().limit(20)
        try:
            with self.engine.connect() as conn:
                return sorted(conn.scalars(stmt))
        except SQLAlchemyError as exc:
            raise HistoryUnavailable(f"history database unavailable ({type(exc).__name__})") from None

    def history(self, workloads: list[str], ids: list[str], limit: int, after: int | None) -> ChangePage:
        matching = union_all(
            select(T.c.id).where(T.c.workload.in_(workloads)), select(T.c.id).where(T.c.container_id.in_(ids))
        )
        return self._page(select(*COLUMNS).where(T.c.id.in_(matching)), limit, after, newest_first=True)

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
