"""Query-string parsing for /api/containers: strict, with one 400 per bad parameter."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, WithJsonSchema, field_validator
from werkzeug.datastructures import MultiDict

from .apimodel import OneOf, QueryModel, parse_query
from .fleet.config import NAME_PATTERN
from .model import Container
from .posture.formats import FORMATS
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


def _flag(raw: object, info: ValidationInfo) -> bool:
    return parse_bool(str(info.field_name), raw if isinstance(raw, str) else None) if raw is not None else False


def _source(raw: str | None, info: ValidationInfo) -> str | None:
    return parse_source(raw, (info.context or {}).get("sources", ()))


def _limit(raw: object, info: ValidationInfo) -> object:
    """Digits only (no sign, no spaces), 1 .. the configured maximum (PAGE_LIMIT_MAX)."""
    maximum = (info.context or {}).get("max_limit", LIMIT_MAX)
    if not isinstance(raw, str) or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise bad_parameter("limit", f"limit must be an integer from 1 to {maximum}")
    return int(raw)


# The query parameters of the listing and posture; validated and documented by these models (inventory.apimodel).
Flag = Annotated[bool, BeforeValidator(_flag), WithJsonSchema({"type": "string", "enum": ["true", "false"]})]
Source = Annotated[str | None, AfterValidator(_source), WithJsonSchema({"type": "string", "pattern": NAME_PATTERN})]
Limit = Annotated[int | None, BeforeValidator(_limit), WithJsonSchema({"type": "integer", "minimum": 1})]
Text = Annotated[str, Field(min_length=1, max_length=256, pattern=r"\S")]
Label = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[^=]*[^=\s]")]
LIMIT_MAX = 1000  # PAGE_LIMIT_MAX's default: the document states the configured one


class ListParams(QueryModel):
    reasons: ClassVar[Mapping[str, str]] = {
        "name": "name must be 1-256 characters",
        "image": "image must be 1-256 characters",
        "label": "label must be key or key=value",
        "state": f"state must be one of {', '.join(STATES)}",
    }

    all: Flag = Field(False, description="Include stopped containers")
    name: Text | None = Field(None, description="Substring of a container name")
    image: Text | None = Field(None, description="Substring of the image reference")
    label: list[Label] = Field([], description="key or key=value; repeatable (all must match)")
    state: Annotated[str, OneOf(STATES)] | None = Field(None, description="Only containers in this state")
    limit: Limit = Field(None, description="Page size")
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    source: Source = Field(None, description="Only this source (one of GET /api/sources)")

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, raw: str | None) -> str | None:
        return None if raw is None else decode_cursor(raw)


class PostureParams(QueryModel):
    reasons: ClassVar[Mapping[str, str]] = {"format": "format={input!r} is not one of " + ", ".join(FORMATS)}

    all: Flag = Field(False, description="Include stopped containers")
    format: Annotated[str, OneOf(tuple(FORMATS))] | None = Field(
        None, description="Report format (default: by Accept, JSON)"
    )
    source: Source = Field(None, description="Only this source (one of GET /api/sources)")


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
        p = parse_query(ListParams, args, {"max_limit": max_limit, "sources": sources})
        labels = [(key, val if sep else None) for key, sep, val in (raw.partition("=") for raw in p.label)]
        return cls(
            include_stopped=p.all or (p.state is not None and p.state != "running"),
            name=p.name,
            image=p.image,
            labels=labels,
            state=p.state,
            limit=default_limit if p.limit is None else p.limit,
            after=p.cursor,
            source=p.source,
        )

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
