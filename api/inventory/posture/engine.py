"""Evaluate containers against the catalog: findings, waivers, scores. The one layer that decides posture."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..model import Container, Security
from ..workload import workload_identity
from .catalog import Catalog, Rule, catalog
from .checks import CHECKS
from .report import ContainerReport, Finding, PostureReport, Score
from .waivers import Waiver, self_waivers, waiver_requests


def violated(security: Security, backend: str, cat: Catalog | None = None) -> list[Rule]:
    """Rules of the catalog that apply to ``backend`` and that the container breaks, most severe first."""
    cat = cat or catalog()
    return [r for r in cat.rules if r.applies_to(backend) and CHECKS[r.id](security)]


def grade(value: float, cat: Catalog | None = None) -> str:
    cat = cat or catalog()
    return next(g for g, minimum in cat.grades if value >= minimum)


def container_score(findings: Sequence[Finding], cat: Catalog | None = None) -> Score:
    """100 minus the severity weights of the unwaived findings, never below 0."""
    cat = cat or catalog()
    value = float(max(0, 100 - sum(cat.weights[f.severity] for f in findings if not f.waived)))
    return Score(value, grade(value, cat))


def overall_score(scores: Sequence[Score], cat: Catalog | None = None) -> Score:
    """Mean of the container scores, one decimal; 100 (A) when there is nothing to score."""
    value = round(sum(s.value for s in scores) / len(scores), 1) if scores else 100.0
    return Score(value, grade(value, cat))


def match_waiver(
    rule: str, container: Container, waivers: Sequence[Waiver], today: date
) -> tuple[Waiver | None, Waiver | None]:
    """(the valid waiver that applies, else None; an expired one that would have applied, else None)."""
    expired = None
    for w in waivers:
        if w.rule != rule or not w.target.matches(
            container.name, container.image, container.namespace, container.labels
        ):
            continue
        if not w.expired(today):
            return w, None
        expired = expired or w
    return None, expired


def evaluate_container(
    container: Container,
    security: Security,
    backend: str,
    source: str = "local",
    waivers: Sequence[Waiver] = (),
    today: date | None = None,
    allow_self_waivers: bool = False,
) -> ContainerReport:
    """Findings (waivers applied), score. Self-waivers count only when ``allow_self_waivers``."""
    today = today or date.today()
    cat = catalog()
    requests = waiver_requests(security.labels) if allow_self_waivers else {}
    if requests:
        origin = "annotation" if backend == "kubernetes" else "label"
        waivers = [*waivers, *self_waivers(requests, set(cat.by_id), origin)]
    matched = {r.id: match_waiver(r.id, container, waivers, today) for r in violated(security, backend, cat)}
    workload = workload_identity(container)
    findings = [
        Finding(
            rule=r.id,
            severity=r.severity,
            title=r.title,
            remediation=r.remediation,
            references=r.references,
            source=source,
            target=container.name,
            container_id=container.id,
            image=container.image,
            waiver=matched[r.id][0],
            expired_waiver=matched[r.id][1],
            workload=workload,
        )
        for r in violated(security, backend, cat)
    ]
    return ContainerReport(
        id=container.id,
        name=container.name,
        image=container.image,
        state=container.state,
        source=source,
        namespace=container.namespace,
        findings=findings,
        score=container_score(findings),
    )


def build_report(
    source: str,
    backend: str,
    reports: list[ContainerReport],
    waivers: Sequence[Waiver] = (),
    today: date | None = None,
) -> PostureReport:
    """The host/cluster report: containers, overall score, and every expired waiver (file or self-declared)."""
    today = today or date.today()
    expired: list[Waiver] = [w for w in waivers if w.expired(today)]
    for r in reports:
        for f in r.findings:
            if f.expired_waiver is not None and f.expired_waiver not in expired:
                expired.append(f.expired_waiver)
    return PostureReport(
        source=source,
        backend=backend,
        containers=reports,
        rules=tuple(r for r in catalog().rules if r.applies_to(backend)),
        score=overall_score([r.score for r in reports]),
        expired_waivers=expired,
    )
