"""Typed posture results: what crosses from the service to views, metrics, the recorder and the UI.

A ``Finding`` carries everything a consumer needs without looking the rule up again (severity, title,
remediation, references) plus the fields that identify it over time (``fingerprint``: source, workload
identity and rule, the same function the history recorder uses: ``inventory.workload``). Waived findings
stay in every answer with their ``waiver``; totals and scores skip them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..model import SourceHealth
from ..workload import fingerprint
from .catalog import SEVERITIES, Rule
from .waivers import Waiver


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    title: str
    remediation: str
    references: dict[str, Any]
    # Identity of the thing the finding is about (fingerprint-ready).
    source: str
    target: str  # container name (Docker) or namespace/pod/container (Kubernetes)
    container_id: str
    image: str
    waiver: Waiver | None = None
    expired_waiver: Waiver | None = None  # a matching waiver that has expired (reported, not applied)
    # compose:<project>/<service>/<n>, k8s:<namespace>/<owner>/<container> or name:<name> (inventory.workload)
    workload: str = ""

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    @property
    def fingerprint(self) -> str:
        """Stable across restarts and re-creations of the same workload (a new id, a new pod name): source,
        workload identity and rule; the recorder's history uses the same value."""
        return fingerprint(self.source, self.workload or f"name:{self.target}", self.rule)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "remediation": self.remediation,
            "fix": self.remediation,  # pre-v2 name, kept for existing clients
            "references": self.references,
            "waived": self.waived,
            "waiver": self.waiver.to_dict() if self.waiver else None,
            "expired_waiver": self.expired_waiver.to_dict() if self.expired_waiver else None,
            "workload": self.workload,
            "fingerprint": self.fingerprint,
            "source": self.source,
        }


def count(findings: list[Finding]) -> dict[str, int]:
    """Unwaived findings by severity (every severity present, zero included)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        if not f.waived:
            counts[f.severity] += 1
    return counts


@dataclass(frozen=True)
class Score:
    value: float  # 0..100, higher is better
    grade: str  # A..F

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "grade": self.grade}


@dataclass(frozen=True)
class ContainerReport:
    id: str
    name: str
    image: str
    state: str
    source: str
    findings: list[Finding]
    score: Score
    namespace: str | None = None

    @property
    def short_id(self) -> str:
        prefix = f"{self.source}:"  # ids of other sources than the default one are "<source>:<engine id>"
        return prefix + self.id[len(prefix) :][:12] if self.id.startswith(prefix) else self.id[:12]

    @property
    def totals(self) -> dict[str, int]:
        return count(self.findings)

    @property
    def waived(self) -> int:
        return sum(1 for f in self.findings if f.waived)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "short_id": self.short_id,
            "name": self.name,
            "image": self.image,
            "state": self.state,
            "source": self.source,
            "namespace": self.namespace,
            "findings": [f.to_dict() for f in self.findings],
            "totals": self.totals,
            "waived": self.waived,
            "score": self.score.to_dict(),
        }


@dataclass(frozen=True)
class PostureReport:
    source: str
    backend: str
    containers: list[ContainerReport]
    rules: tuple[Rule, ...]
    score: Score
    expired_waivers: list[Waiver] = field(default_factory=list)
    # Fleet (several sources): each source's status block, and whether some source's containers are missing.
    sources: tuple[SourceHealth, ...] = ()
    partial: bool = False
    stale: bool = False  # some source's containers come from its last good state (it lost its engine moments ago)

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.containers for f in c.findings]

    @property
    def totals(self) -> dict[str, int]:
        return count(self.findings)

    @property
    def waived(self) -> int:
        return sum(1 for f in self.findings if f.waived)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "backend": self.backend,
            "containers": [c.to_dict() for c in self.containers],
            "totals": self.totals,
            "waived": self.waived,
            "score": self.score.to_dict(),
            "expired_waivers": [w.to_dict() for w in self.expired_waivers],
            "rules": [r.describe() for r in self.rules],
            "partial": self.partial,
            "stale": self.stale,
            "sources": [asdict(s) for s in self.sources],
        }
