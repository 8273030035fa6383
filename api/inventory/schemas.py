"""API models of the answers (pydantic): the document's schemas and the encoders of the answers are these classes.

Each model reads the service's typed results by attribute (``Out``: from_attributes); the backends' ``Port``,
``Mount`` and ``Security`` dataclasses are used as they are, so their fields are the schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, Field

from .apimodel import OneOf, Out
from .fleet.openapi import Partial, SourceBrief, SourceName, Stale
from .model import Mount, Port, Security
from .posture import RULES, SEVERITIES

__all__ = ["Mount", "Port", "Security"]  # documented as they are


Severity = Annotated[str, OneOf(SEVERITIES)]
Count = Annotated[int, Field(ge=0)]


class Totals(Out):
    """Unwaived findings by severity, every severity present."""

    CRITICAL: Count
    HIGH: Count
    MEDIUM: Count
    LOW: Count


if tuple(Totals.model_fields) != SEVERITIES:  # pragma: no cover - the catalog's severities are the fields
    raise RuntimeError(f"Totals fields {tuple(Totals.model_fields)} are not the severities {SEVERITIES}")
References = Annotated[
    dict[str, Any],
    Field(
        description="cis: CIS Docker Benchmark v1.8.0 section; cis_v1_6: the same recommendation in v1.6.0; "
        "pss: Pod Security Standards level and control; nsa: NSA/CISA Kubernetes Hardening Guide section"
    ),
]
Workload = Annotated[
    str, Field(description="compose:<project>/<service>/<n>, k8s:<namespace>/<owner>/<container> or name:<name>")
]


class Problem(BaseModel):
    """RFC 9457 problem details (every error)."""

    type: str = Field(json_schema_extra={"format": "uri"})
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
    parameter: str = ""
    matches: list[str] = []


class Score(Out):
    value: float = Field(ge=0, le=100)
    grade: Literal["A", "B", "C", "D", "F"]


def _target(value: Any) -> Any:
    return value.to_dict() if hasattr(value, "to_dict") else value


class Waiver(Out):
    rule: str
    target: Annotated[dict[str, Any], BeforeValidator(_target)]
    reason: str
    owner: str
    expires: dt.date
    origin: Literal["file", "label", "annotation"]


class Finding(Out):
    rule: Annotated[str, OneOf(tuple(r.id for r in RULES))]
    severity: Severity
    title: str
    remediation: str
    fix: str = Field(validation_alias=AliasChoices("fix", "remediation"), description="pre-v2 name of remediation")
    references: References
    waived: bool
    waiver: Waiver | None
    expired_waiver: Waiver | None
    workload: Workload
    fingerprint: str = Field(
        description="Stable id of the finding: hash of source, workload and rule (the one history records)"
    )
    source: SourceName


class Rule(Out):
    id: str
    severity: Severity
    title: str
    fix: str
    remediation: str
    rationale: str
    references: References
    backends: list[Literal["docker", "kubernetes"]]
    limits: str


class RuleList(Out):
    rules: list[Rule]
    count: Count
    weights: dict[str, int]


class Container(Out):
    id: str
    short_id: str
    name: str
    names: list[str]
    image: str
    image_id: str
    state: str
    status: str
    created: str | None
    started_at: str | None
    ports: list[Port]
    health: Literal["healthy", "unhealthy", "starting", "none"]
    labels: dict[str, str]
    namespace: str | None
    pod: str | None
    node: str | None
    restart_count: int | None
    source: SourceName


class ContainerList(Out):
    """One page of containers, sorted by id."""

    items: list[Container]
    count: Count
    total: Count
    next_cursor: str | None
    backend: str
    partial: Partial
    stale: Stale
    sources: list[SourceBrief]
    client_ip: str | None = None


class ContainerDetail(Out):
    container: Container
    security: Security
    findings: list[Finding]
    totals: Totals
    score: Score
    client_ip: str | None = None


class ContainerPosture(Out):
    id: str
    short_id: str
    name: str
    image: str
    state: str
    source: SourceName
    namespace: str | None
    findings: list[Finding]
    totals: Totals
    waived: Count
    score: Score


class Posture(Out):
    """Findings per container, totals and scores."""

    containers: list[ContainerPosture]
    source: str
    backend: str
    totals: Totals
    waived: Count
    score: Score
    expired_waivers: list[Waiver]
    rules: list[Rule]
    partial: Partial
    stale: Stale
    sources: list[SourceBrief]
    client_ip: str | None = None


class Version(Out):
    version: str
    git_sha: str
    build_time: str
    backend: str
    python: str


class Health(Out):
    status: Literal["ok"]


class Engine(Out):
    """The default source's engine identity (when it answered within a timeout) and the fleet's readiness."""

    engine: str
    version: str | None
    api_version: str | None
    partial: Partial
    synced: bool
    stale: Stale
    sources: list[SourceBrief]
    containers: Count


class Ready(Out):
    status: Literal["ready"]
    synced: bool = Field(description="every source's live state is synced with its engine")
    stale: bool = Field(
        description="some source lost its engine less than LIVE_STALE_GRACE seconds ago: its last good state is"
        " served (still ready; 503 once the grace period ends and no source answers)"
    )
    backend: Engine
