"""What each page shows, as typed values built from InventoryService; the views only render them.

Filters reuse the API's own ListQuery (one layer decides what a filter means); the UI adds page numbers
and drops the empty fields a plain HTML form submits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from ..fleet.sources import SourceStatus
from ..model import BackendUnavailable, Container
from ..problems import Problem
from ..query import STATES, ListQuery
from ..service import InventoryService
from .charts import BarChart, bar_chart

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
FILTER_FIELDS = ("name", "image", "state", "label", "source", "all")


@dataclass
class Filters:
    """The filter form's values, echoed back into the form and into the paging links."""

    name: str = ""
    image: str = ""
    state: str = ""
    label: str = ""
    source: str = ""
    all: bool = False
    limit: int = DEFAULT_PAGE_SIZE

    def query(self, page: int | None = None) -> dict[str, str | int]:
        """Query-string values for a link to this filter set (empty values left out)."""
        args: dict[str, str | int] = {k: v for k, v in self.__dict__.items() if v and k not in ("all", "limit")}
        if self.all:
            args["all"] = "true"
        if self.limit != DEFAULT_PAGE_SIZE:
            args["limit"] = self.limit
        if page and page > 1:
            args["page"] = page
        return args

    @property
    def active(self) -> bool:
        return any((self.name, self.image, self.state, self.label, self.source, self.all))


@dataclass
class InventoryPage:
    filters: Filters
    rows: list[Container] = field(default_factory=list)
    total: int = 0
    page: int = 1
    pages: int = 1
    error: str = ""
    status: int = 200
    states: tuple[str, ...] = STATES
    sources: list[str] = field(default_factory=list)
    page_sizes: tuple[int, ...] = PAGE_SIZES

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.filters.limit + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.rows) - 1 if self.rows else 0


def _form_args(args: MultiDict[str, str]) -> MultiDict[str, str]:
    """Keep only the filter fields the form sends, without the empty ones (an empty field means 'any')."""
    kept: MultiDict[str, str] = MultiDict()
    for key in ("name", "image", "state", "label", "source", "all", "limit"):
        for value in args.getlist(key):
            if value.strip():
                kept.add(key, value.strip())
    return kept


def _page_number(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise Problem(400, "invalid-parameter", "Invalid query parameter", "page must be a positive integer")
    return int(raw)


def inventory(service: InventoryService, args: MultiDict[str, str]) -> InventoryPage:
    """Filter and page the listing; a bad filter becomes a message on the page, not an exception."""
    form = _form_args(args)
    filters = Filters(
        name=form.get("name", ""),
        image=form.get("image", ""),
        state=form.get("state", ""),
        label=form.get("label", ""),
        source=form.get("source", ""),
        all=form.get("all", "") in ("true", "1", "yes", "on"),
    )
    names = service.source_names()
    result = InventoryPage(filters=filters, sources=names if len(names) > 1 else [])
    try:
        limit = int(form["limit"]) if form.get("limit", "").isdigit() else DEFAULT_PAGE_SIZE
        filters.limit = limit if limit in PAGE_SIZES else DEFAULT_PAGE_SIZE
        if filters.all:
            form["all"] = "true"
        form["limit"] = str(filters.limit)
        query = ListQuery.parse(form, DEFAULT_PAGE_SIZE, max(PAGE_SIZES), names)
        page = _page_number(args.get("page"))
    except Problem as exc:
        result.error, result.status = exc.detail, 400
        return result
    try:
        view = service.view(query.source)  # BackendUnavailable only when no (selected) source answers
    except BackendUnavailable as exc:
        if not query.source:
            raise
        result.error, result.status = f"source {query.source} is unavailable: {exc}", 503
        return result
    selected = [c for c in view.select(query.include_stopped) if query.matches(c)]
    selected.sort(key=lambda c: (c.name, c.id))
    result.total = len(selected)
    result.pages = max(1, math.ceil(len(selected) / filters.limit))
    result.page = min(page, result.pages)
    start = (result.page - 1) * filters.limit
    result.rows = selected[start : start + filters.limit]
    return result


@dataclass
class SourcesPage:
    """Per-source health: status, containers, last sync and error of every configured engine or cluster."""

    sources: tuple[SourceStatus, ...]
    chart: BarChart

    @property
    def available(self) -> int:
        return sum(1 for s in self.sources if s.available)


def sources(service: InventoryService) -> SourcesPage:
    statuses = service.sources()
    counts = {s.name: s.containers or 0 for s in statuses}
    return SourcesPage(statuses, bar_chart("Containers by source", counts, label_width=120))
