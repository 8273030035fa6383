"""The history endpoints' query strings as models (inventory.apimodel): validated and documented by one class."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, ValidationInfo, WithJsonSchema, field_validator
from werkzeug.datastructures import MultiDict

from ..apimodel import OneOf, QueryModel, parse_query
from ..problems import bad_parameter
from ..query import Limit, decode_cursor, encode_cursor
from .query import BUCKETS, ChangeFilter
from .records import KINDS

RULE_PATTERN = "^[a-z0-9][a-z0-9._-]{0,63}$"
MAX_YEAR_SPAN = dt.timedelta(days=3660)
TIME_SCHEMA = {"type": "string", "format": "date-time"}


def parse_time(raw: Any, info: ValidationInfo) -> dt.datetime | None:
    """ISO 8601 (a time without offset is UTC); returned as naive UTC like the stored times."""
    name = str(info.field_name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(str(raw).strip())
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise bad_parameter(name, f"{name} must be an ISO 8601 time such as 2026-11-25T21:00:00Z") from None
    if not 1970 <= value.year <= 9998:
        raise bad_parameter(name, f"{name} is out of range (1970-9998)")
    return value


def _cursor(raw: Any) -> int | None:
    if raw is None:
        return None
    value = decode_cursor(str(raw))
    if not value.startswith("c:") or not value[2:].isdigit() or len(value) > 24:
        raise bad_parameter("cursor", "cursor is not a value returned by next_cursor")
    return int(value[2:])


def cursor_for(change_id: int | None) -> str | None:
    return None if change_id is None else encode_cursor(f"c:{change_id}")


Time = Annotated[dt.datetime | None, BeforeValidator(parse_time), WithJsonSchema(TIME_SCHEMA)]
Cursor = Annotated[int | None, BeforeValidator(_cursor), WithJsonSchema({"type": "string"})]
CURSOR = "next_cursor of the previous page"


class PageParams(QueryModel):
    limit: Limit = Field(None, description="Page size")
    cursor: Cursor = Field(None, description=CURSOR)


class ChangeParams(QueryModel):
    reasons: ClassVar[Mapping[str, str]] = {
        "container": "container must be 1-256 characters (id, id prefix, name or workload)",
        "rule": "rule must be a rule id such as run-as-root",
        "kind": f"kind must be one of {', '.join(KINDS)}",
        "order": "order must be asc (oldest first) or desc (newest first)",
    }

    since: Time = Field(None, description="ISO 8601 time (UTC if no offset); inclusive")
    until: Time = Field(None, description="ISO 8601 time (UTC if no offset); exclusive for changes")
    container: Annotated[str, Field(min_length=1, max_length=256)] | None = Field(
        None, description="id, id prefix, name or workload"
    )
    rule: Annotated[str, Field(pattern=RULE_PATTERN)] | None = Field(None, description="Rule id")
    kind: Annotated[str, OneOf(KINDS)] | None = Field(None, description="Change kind")
    order: Annotated[str, OneOf(("desc", "asc"))] = Field("desc", description="desc (newest first, default) or asc")
    limit: Limit = Field(None, description="Page size")
    cursor: Cursor = Field(None, description=CURSOR)

    @field_validator("until")
    @classmethod
    def _after_since(cls, until: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        since = info.data.get("since")
        if since and until and until < since:
            raise bad_parameter("until", "until must not be before since")
        return until

    @field_validator("container")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise bad_parameter("container", cls.reasons["container"])
        return value


class TrendParams(QueryModel):
    reasons: ClassVar[Mapping[str, str]] = {"bucket": f"bucket must be one of {', '.join(BUCKETS)}"}

    since: Time = Field(None, description="ISO 8601 time (UTC if no offset); inclusive (default: until - 7 days)")
    until: Time = Field(None, description="ISO 8601 time (UTC if no offset); default: now")
    bucket: Annotated[str, OneOf(tuple(BUCKETS))] = Field("hour", description="hour (default), day or raw samples")


def parse_changes(args: MultiDict[str, str], default_limit: int, max_limit: int) -> ChangeFilter:
    p = parse_query(ChangeParams, args, {"max_limit": max_limit})
    return ChangeFilter(
        since=p.since,
        until=p.until,
        container=p.container,
        rule=p.rule,
        kind=p.kind,
        limit=default_limit if p.limit is None else p.limit,
        after=p.cursor,
        newest_first=p.order == "desc",
    )


def parse_history(args: MultiDict[str, str], default_limit: int, max_limit: int) -> tuple[int, int | None]:
    p = parse_query(PageParams, args, {"max_limit": max_limit})
    return default_limit if p.limit is None else p.limit, p.cursor


def parse_trend(args: MultiDict[str, str], now: dt.datetime) -> tuple[dt.datetime, dt.datetime, str]:
    p = parse_query(TrendParams, args)
    until = p.until or now
    since = p.since or until - dt.timedelta(days=7)
    if until <= since:
        raise bad_parameter("until", "until must be after since")
    if until - since > MAX_YEAR_SPAN:
        raise bad_parameter("since", "the trend covers at most 10 years")
    return since, until, p.bucket
