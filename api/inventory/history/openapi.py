"""API models of the history endpoints (merged into inventory.openapi.spec)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AliasChoices, Field, PlainSerializer, WithJsonSchema

from ..apimodel import OneOf, Out
from ..schemas import Count, Severity, Totals
from .query import BUCKETS
from .records import KINDS, iso

Time = Annotated[
    dt.datetime, PlainSerializer(iso, return_type=str), WithJsonSchema({"type": "string", "format": "date-time"})
]


class Change(Out):
    id: str = Field(
        validation_alias=AliasChoices("uid", "id"), description="stable change id; also the webhook Idempotency-Key"
    )
    at: Time
    kind: Annotated[str, OneOf(KINDS)]
    source: str
    container_id: str
    container_name: str
    workload: str = Field(description="compose:<project>/<service>/<n>, k8s:<ns>/<owner>/<c>")
    rule: str | None
    severity: Severity | None
    fingerprint: str | None
    old: str | None
    new: str | None
    while_away: bool = Field(description="found on recorder start: happened while it was away")


class ChangePage(Out):
    """One page of changes."""

    items: list[Change]
    count: Count
    next_cursor: str | None


class ContainerHistory(ChangePage):
    """Changes of the container's workload, newest first."""

    container: str
    workloads: list[str]


class TrendPoint(Out):
    at: Time
    totals: Totals
    waived: Count


class PostureTrend(Out):
    """Open findings by severity over time."""

    since: Time
    until: Time
    bucket: Annotated[str, OneOf(tuple(BUCKETS))]
    points: list[TrendPoint]
