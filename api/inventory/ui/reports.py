"""Posture-centred pages (overview, posture, one container) as typed values built from InventoryService."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..model import Container, Security
from ..posture.catalog import SEVERITIES, Rule
from ..posture.report import ContainerReport, Finding, PostureReport
from ..problems import Problem
from ..service import InventoryService
from .charts import SEVERITY_CLASSES, BarChart, bar_chart


@dataclass(frozen=True)
class Affected:
    report: ContainerReport
    finding: Finding


@dataclass
class RuleRow:
    rule: Rule
    affected: list[Affected] = field(default_factory=list)

    @property
    def open(self) -> int:
        return sum(1 for a in self.affected if not a.finding.waived)

    @property
    def waived(self) -> int:
        return sum(1 for a in self.affected if a.finding.waived)


@dataclass
class PosturePage:
    report: PostureReport
    chart: BarChart
    rules: list[RuleRow]
    severity: str
    worst: list[ContainerReport]
    severities: tuple[str, ...] = SEVERITIES


def severity_chart(report: PostureReport, title: str = "Open findings by severity") -> BarChart:
    return bar_chart(title, report.totals, classes=SEVERITY_CLASSES)


def posture(service: InventoryService, severity: str = "") -> PosturePage:
    if severity and severity not in SEVERITIES:
        raise Problem(400, "invalid-parameter", "Invalid query parameter", f"severity must be one of {SEVERITIES}")
    report = service.posture()
    rows = {rule.id: RuleRow(rule) for rule in report.rules}
    for c in report.containers:
        for f in c.findings:
            rows.setdefault(f.rule, RuleRow(next(r for r in report.rules if r.id == f.rule))).affected.append(
                Affected(c, f)
            )
    order = {sev: i for i, sev in enumerate(SEVERITIES)}
    selected = [r for r in rows.values() if not severity or r.rule.severity == severity]
    selected.sort(key=lambda r: (order[r.rule.severity], -r.open, r.rule.id))
    worst = sorted((c for c in report.containers if c.score.value < 100), key=lambda c: (c.score.value, c.name))
    return PosturePage(report, severity_chart(report), selected, severity, worst[:10])


@dataclass
class OverviewPage:
    containers: int
    states: dict[str, int]
    report: PostureReport
    chart: BarChart


def overview(service: InventoryService) -> OverviewPage:
    everything = service.containers(include_stopped=True)
    states = dict(Counter(c.state for c in everything).most_common())
    report = service.posture()
    return OverviewPage(len(everything), states, report, severity_chart(report))


@dataclass
class ContainerPage:
    container: Container
    security: Security
    report: ContainerReport

    @property
    def open_findings(self) -> list[Finding]:
        return [f for f in self.report.findings if not f.waived]

    @property
    def waived_findings(self) -> list[Finding]:
        return [f for f in self.report.findings if f.waived]


def container(service: InventoryService, ref: str) -> ContainerPage:
    """One container: its listing entry merged with the inspect view, its findings and waivers."""
    listed = service.resolve(ref)
    detail = service.detail(listed)
    inspected = {k: v for k, v in detail.container.__dict__.items() if v not in (None, [], {})}
    merged = Container(**{**listed.__dict__, **inspected, "labels": {**listed.labels, **detail.container.labels}})
    return ContainerPage(merged, detail.security, service.report(listed, detail))
