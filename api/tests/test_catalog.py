"""The catalog is complete and consistent, and every Kubernetes fixture gives exactly its verdict through
the real pod normalisation (trim -> Security) and the engine."""

from __future__ import annotations

import pytest
from inventory.backends.kubernetes import container_from_pod, security_from_pod, trim_pod
from inventory.posture import RULES, SEVERITIES, catalog, violated
from inventory.posture.checks import CHECKS

from tests.support.rule_cases import docker_cases, main_cases, pod_cases

CIS_DECIDABLE = {  # CIS Docker Benchmark v1.8.0 section 5 recommendations decidable from inspect data
    "5.2", "5.3", "5.4", "5.5", "5.6", "5.8", "5.10", "5.11", "5.12", "5.13", "5.14", "5.15", "5.16", "5.17",
    "5.18", "5.20", "5.21", "5.22", "5.25", "5.26", "5.27", "5.28", "5.29", "5.30", "5.31", "5.32",
}  # fmt: skip
PSS_CONTROLS = {
    ("baseline", "HostProcess"), ("baseline", "Host Namespaces"), ("baseline", "Privileged Containers"),
    ("baseline", "Capabilities"), ("baseline", "HostPath Volumes"), ("baseline", "Host Ports"),
    ("baseline", "AppArmor"), ("baseline", "SELinux"), ("baseline", "/proc Mount Type"), ("baseline", "Seccomp"),
    ("baseline", "Sysctls"), ("baseline", "Host Probes / Lifecycle Hooks"),
    ("restricted", "Volume Types"), ("restricted", "Privilege Escalation"),
    ("restricted", "Running as Non-root"), ("restricted", "Running as Non-root user"), ("restricted", "Seccomp"),
    ("restricted", "Capabilities"),
}  # fmt: skip


def test_catalog_is_complete() -> None:
    assert len(RULES) >= 30
    assert set(CHECKS) == {r.id for r in RULES}
    assert {r.references["cis"] for r in RULES if "cis" in r.references} >= CIS_DECIDABLE
    pss = {(r.references["pss"]["level"], r.references["pss"]["control"]) for r in RULES if "pss" in r.references}
    assert pss >= PSS_CONTROLS
    assert {"mutable-image-tag", "image-not-pinned"} <= {r.id for r in RULES}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_is_documented_and_has_fixtures(rule) -> None:
    assert rule.severity in SEVERITIES and rule.title and rule.rationale and rule.remediation and rule.references
    cases = main_cases(rule)
    for backend in rule.backends:
        assert cases.get(backend, {}).get("fail"), f"{rule.id}: no failing {backend} fixture"
    assert set(cases) <= set(rule.backends)
    assert ("kubernetes" in rule.backends) == (rule.admission is not None)


def test_rules_are_ordered_by_severity() -> None:
    order = [SEVERITIES.index(r.severity) for r in RULES]
    assert order == sorted(order)


def _pod_verdict(pod: dict) -> set[str]:
    trimmed = trim_pod(pod)
    spec = trimmed["spec"]["containers"][0]
    container = container_from_pod(trimmed, spec, None)
    assert container.namespace == "fixtures"
    return {r.id for r in violated(security_from_pod(trimmed, spec), "kubernetes")}


@pytest.mark.parametrize(("case", "rule", "pod", "expected"), pod_cases(), ids=[c[0] for c in pod_cases()])
def test_kubernetes_fixture_verdicts(case: str, rule: str, pod: dict, expected: set[str]) -> None:
    assert _pod_verdict(pod) == expected


def test_docker_fixtures_cover_every_docker_rule() -> None:
    cases = docker_cases()
    covered = {rule for _, rule, _, _ in cases if rule}
    assert covered == {r.id for r in catalog().rules if "docker" in r.backends}


def test_docs_catalog_table_is_current() -> None:
    from inventory.posture import docs

    text = docs.DOC.read_text(encoding="utf-8")
    assert docs.render(text) == text, "docs/POSTURE.md posture table is stale: python -m inventory.posture.docs"
    assert text.count("| `") >= len(RULES)
