"""API models of the fleet: a source's health in every answer (``sources``), and GET /api/sources."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..apimodel import Out
from .config import NAME_PATTERN

SourceName = Annotated[str, Field(pattern=NAME_PATTERN)]
Status = Annotated[
    Literal["ok", "stale", "unavailable", "starting"],
    Field(
        description="ok: synced; stale: lost its engine less than LIVE_STALE_GRACE seconds ago, its last good state"
        " is served (containers counted, error and last_sync set); unavailable: lost for longer, or never synced;"
        " starting: first sync pending"
    ),
]
Stale = Annotated[
    bool,
    Field(
        description="true when some source's containers come from its last good state (status stale): the answer"
        " is complete as of that source's last sync but may miss changes since"
    ),
]
Partial = Annotated[bool, Field(description="true when some source's containers are missing (see sources)")]
Count = Annotated[int, Field(ge=0)] | None


class SourceBrief(Out):
    """One source's health in an answer; containers is null while it is unavailable or starting."""

    name: SourceName
    status: Status
    containers: Count
    error: str | None


class Source(Out):
    """One configured source (engine or cluster)."""

    name: SourceName
    type: Literal["docker", "podman", "kubernetes"]
    endpoint: str = Field(description="Where it points; never credentials")
    status: Status
    containers: Count
    last_sync: str | None = Field(json_schema_extra={"format": "date-time"})
    error: str | None
    state_version: int = Field(ge=0)


class Sources(Out):
    """Every configured source: health, last sync, container count, error."""

    sources: list[Source]
    count: int = Field(ge=1)
    available: int = Field(ge=0, description="sources answering: ok or stale")
    partial: bool
    stale: Stale
