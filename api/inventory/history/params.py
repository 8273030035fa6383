"""Strict query-string parsing for the history endpoints (one 400 problem per bad parameter)."""

from __future__ import annotations

import datetime as dt
import re

from werkzeug.datastructures import MultiDict

from ..problems import bad_parameter
from ..query import decode_cursor, encode_cursor
from .query import BUCKETS, ChangeFilter
from .records import KINDS

CHANGE_PARAMS = {"since", "until", "container", "rule", "kind", "limit", "cursor", "order"}
HISTORY_PARAMS = {"limit", "cursor"}
TREND_PARAMS = {"since", "until", "bucket"}
RULE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_YEAR_SPAN = dt.timedelta(days=3660)


def _check_names(args: MultiDict[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise bad_parameter(
            unknown[0], f"unknown query parameter {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )
    for name in allowed:
        if len(args.getlist(name)) > 1:
            raise bad_parameter(name, f"{name} may be given only once")


def parse_time(name: str, raw: str | None) -> dt.datetime | None:
    """ISO 8601 (a time without offset is UTC); returned as naive UTC like the stored times."""
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.strip())
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise bad_parameter(name, f"{name} must be an ISO 8601 time such as 2026-11-25T21:00:00Z") from None
    if not 1970 <= value.year <= 9998:
        raise bad_parameter(name, f"{name} is out of range (1970-9998)")
    return value


def parse_limit(args: MultiDict[str, str], default: int, maximum: int) -> int:
    raw = args.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise bad_parameter("limit", f"limit must be an integer from 1 to {maximum}")
    return int(raw)


def parse_cursor(args: MultiDict[str, str]) -> int | None:
    raw = args.get("cursor")
    if raw is None:
        return None
    value = decode_cursor(raw)
    if not value.startswith("c:") or not value[2:].isdigit() or len(value) > 24:
        raise bad_parameter("cursor", "cursor is not a value returned by next_cursor")
    return int(value[2:])


def cursor_for(change_id: int | None) -> str | None:
    return None if change_id is None else encode_cursor(f"c:{change_id}")


def parse_changes(args: MultiDict[str, str], default_limit: int, max_limit: int) -> ChangeFilter:
    _check_names(args, CHANGE_PARAMS)
    since, until = parse_time("since", args.get("since")), parse_time("until", args.get("until"))
    if since and until and until < since:
        raise bad_parameter("until", "until must not be before since")
    container = args.get("container")
    if container is not None and (not 1 <= len(container) <= 256 or not container.isprintable()):
        raise bad_parameter("container", "container must be 1-256 characters (id, id prefix, name or workload)")
    rule = args.get("rule")
    if rule is not None and not RULE.match(rule):
        raise bad_parameter("rule", "rule must be a rule id such as run-as-root")
    kind = args.get("kind")
    if kind is not None and kind not in KINDS:
        raise bad_parameter("kind", f"kind must be one of {', '.join(KINDS)}")
    order = args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_parameter("order", "order must be asc (oldest first) or desc (newest first)")
    return ChangeFilter(
        since=since,
        until=until,
        container=container,
        rule=rule,
        kind=kind,
        limit=parse_limit(args, default_limit, max_limit),
        after=parse_cursor(args),
        newest_first=order == "desc",
    )


def parse_history(args: MultiDict[str, str], default_limit: int, max_limit: int) -> tuple[int, int | None]:
    _check_names(args, HISTORY_PARAMS)
    return parse_limit(args, default_limit, max_limit), parse_cursor(args)


def parse_trend(args: MultiDict[str, str], now: dt.datetime) -> tuple[dt.datetime, dt.datetime, str]:
    _check_names(args, TREND_PARAMS)
    until = parse_time("until", args.get("until")) or now
    since = parse_time("since", args.get("since")) or until - dt.timedelta(days=7)
    if until <= since:
        raise bad_parameter("until", "until must be after since")
    if until - since > MAX_YEAR_SPAN:
        raise bad_parameter("since", "the trend covers at most 10 years")
    bucket = args.get("bucket", "hour")
    if bucket not in BUCKETS:
        raise bad_parameter("bucket", f"bucket must be one of {', '.join(BUCKETS)}")
    return since, until, bucket
