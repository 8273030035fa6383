"""Query-string parsing for /api/containers: strict, with one 400 per bad parameter."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from .model import Container
from .problems import bad_parameter

STATES = (
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
    "waiting",
    "terminated",
    "unknown",
)
LIST_PARAMS = {"all", "name", "image", "label", "state", "limit", "cursor", "source"}
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def parse_bool(name: str, raw: str | None) -> bool:
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise bad_parameter(name, f"{name} must be true or false, got {raw!r}")


def parse_source(raw: str | None, sources: Sequence[str]) -> str | None:
    """``source=<name>``: one of the configured sources, or a 400 naming them."""
    if raw is None:
        return None
    if raw not in sources:
        raise bad_parameter("source", f"source must be one of {', '.join(sources)}")
    return raw


def encode_cursor(container_id: str) -> str:
    return base64.urlsafe_b64encode(container_id.encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> str:
    try:
        value = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_parameter("cursor", "cursor is not a value returned by next_cursor") from None
    if not value or len(value) > 512 or not value.isprintable():
        raise bad_parameter("cursor", "cursor is not a value returned by next_cursor")
    return value


@dataclass
class ListQuery:
    include_stopped: bool = False
    name: str | None = None
    image: str | None = None
    labels: list[tuple[str, str | None]] = field(default_factory=list)
    state: str | None = None
    limit: int = 100
    after: str | None = None
    source: str | None = None

    @classmethod
    def parse(
        cls, args: MultiDict[str, str], default_limit: int, max_limit: int, sources: Sequence[str] = ()
    ) -> ListQuery:
        unknown = sorted(set(args) - LIST_PARAMS)
        if unknown:
            raise bad_parameter(
                unknown[0], f"unknown query parameter {unknown[0]!r}; allowed: {', '.join(sorted(LIST_PARAMS))}"
            )
        for single in LIST_PARAMS - {"label"}:
            if len(args.getlist(single)) > 1:
                raise bad_parameter(single, f"{single} may be given only once")
        q = cls(include_stopped=parse_bool("all", args.get("all")), limit=default_limit)
        for name in ("name", "image"):
            value = args.get(name)
            if value is not None:
                if not value.strip() or len(value) > 256:
                    raise bad_parameter(name, f"{name} must be 1-256 characters")
                setattr(q, name, value)
        for raw in args.getlist("label"):
            key, sep, val = raw.partition("=")
            if not key.strip() or len(raw) > 512:
                raise bad_parameter("label", "label must be key or key=value")
            q.labels.append((key, val if sep else None))
        state = args.get("state")
        if state is not None:
            if state not in STATES:
                raise bad_parameter("state", f"state must be one of {', '.join(STATES)}")
            q.state = state
            if state != "running":
                q.include_stopped = True
        raw_limit = args.get("limit")
        if raw_limit is not None:
            if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= max_limit:
                raise bad_parameter("limit", f"limit must be an integer from 1 to {max_limit}")
            q.limit = int(raw_limit)
        q.source = parse_source(args.get("source"), sources)
        cursor = args.get("cursor")
        if cursor is not None:
            q.after = decode_cursor(cursor)
        return q

    def key(self) -> tuple[object, ...]:
        """Everything that selects the page, hashable (the rendered-page cache key)."""
        return (
            self.include_stopped,
            self.name,
            self.image,
            tuple(self.labels),
            self.state,
            self.limit,
            self.after,
            self.source,
        )

    def matches(self, c: Container) -> bool:
        if self.state and c.state != self.state:
            return False
        if self.name and not any(self.name in n for n in c.names):
            return False
        if self.image and self.image not in c.image:
            return False
        for key, value in self.labels:
            if key not in c.labels or (value is not None and c.labels[key] != value):
                return False
        return True

    def page(self, items: list[Container]) -> tuple[list[Container], int, str | None]:
        """Filter, then keyset-paginate on id (items arrive sorted by id)."""
        selected = [c for c in items if self.matches(c)]
        start = [c for c in selected if self.after is None or c.id > self.after]
        page = start[: self.limit]
        next_cursor = encode_cursor(page[-1].id) if len(start) > self.limit else None
        return page, len(selected), next_cursor
