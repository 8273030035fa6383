"""History on the dashboard: the recent-changes timeline, a container's history and the posture trend.

Everything here reads the history query layer (inventory.history.query). When the deployment records no
history (no recorder, database missing or down) these sections are left out instead of failing the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from ..history.params import cursor_for, parse_changes
from ..history.query import ChangeFilter, HistoryQueries, HistoryUnavailable, Trend
from ..history.records import KINDS, ChangeRecord, utcnow
from ..model import Container
from ..posture import SEVERITIES
from ..problems import Problem
from ..workload import workload_identity
from .charts import SEVERITY_CLASSES, LineChart, line_chart

PAGE_SIZE = 50
TIMELINE_FIELDS = ("kind", "container", "rule", "cursor")


def available(queries: HistoryQueries) -> bool:
    """True when the history database answers (one cheap query)."""
    try:
        queries.changes(ChangeFilter(limit=1))
    except HistoryUnavailable:
        return False
    return True


@dataclass
class TimelineFilters:
    kind: str = ""
    container: str = ""
    rule: str = ""

    def query(self, cursor: str | None = None) -> dict[str, str]:
        args = {k: v for k, v in self.__dict__.items() if v}
        if cursor:
            args["cursor"] = cursor
        return args

    @property
    def active(self) -> bool:
        return any(self.__dict__.values())


@dataclass
class TimelinePage:
    filters: TimelineFilters
    items: list[ChangeRecord] = field(default_factory=list)
    next_cursor: str | None = None
    paged: bool = False
    error: str = ""
    kinds: tuple[str, ...] = KINDS


def timeline(queries: HistoryQueries, args: MultiDict[str, str]) -> TimelinePage:
    """Changes, newest first, filtered like /api/changes; a bad filter is a message on the page."""
    form: MultiDict[str, str] = MultiDict()
    for key in TIMELINE_FIELDS:
        value = args.get(key, "").strip()
        if value:
            form[key] = value
    filters = TimelineFilters(form.get("kind", ""), form.get("container", ""), form.get("rule", ""))
    page = TimelinePage(filters, paged="cursor" in form)
    form["limit"] = str(PAGE_SIZE)
    try:
        f = parse_changes(form, PAGE_SIZE, PAGE_SIZE)
    except Problem as exc:
        page.error = exc.detail
        return page
    result = queries.changes(f)  # HistoryUnavailable: the view answers 503
    page.items, page.next_cursor = result.items, cursor_for(result.next_cursor_id)
    return page


def recent(queries: HistoryQueries, limit: int = 10) -> list[ChangeRecord] | None:
    try:
        return queries.changes(ChangeFilter(limit=limit)).items
    except HistoryUnavailable:
        return None


def container_history(queries: HistoryQueries, container: Container, limit: int = 25) -> list[ChangeRecord] | None:
    try:
        return queries.history([workload_identity(container)], [container.id], limit, None).items
    except HistoryUnavailable:
        return None


def gone_history(queries: HistoryQueries, ref: str, limit: int = 50) -> tuple[list[str], list[ChangeRecord]]:
    """History of a container the engine no longer has (by id, id prefix or name); empty when unknown."""
    try:
        workloads = queries.workloads_of(ref)
        if not workloads:
            return [], []
        return workloads, queries.history(workloads, [], limit, None).items
    except HistoryUnavailable:
        return [], []


def trend_chart(queries: HistoryQueries, hours: int, bucket: str = "hour") -> LineChart | None:
    """Open findings by severity over the last `hours`, or None without history (or without two points)."""
    until = utcnow()
    try:
        trend: Trend = queries.trend(until - dt.timedelta(hours=hours), until, bucket)
    except HistoryUnavailable:
        return None
    series = {sev: [(p.at, p.totals.get(sev, 0)) for p in trend.points] for sev in SEVERITIES}
    span = f"{hours} hours" if hours <= 48 else f"{hours // 24} days"
    return line_chart(f"Trend of open findings by severity, last {span}", series, classes=SEVERITY_CLASSES)
