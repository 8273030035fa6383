"""Engine behaviour on normalised Security: hardened = no findings, root detection, scores, waivers."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from inventory.model import Container, Security
from inventory.posture import SEVERITIES, Target, Waiver, catalog, count, evaluate_container, overall_score
from inventory.posture.engine import grade

HARDENED = Security(
    user="10001:10001",
    privileged=False,
    read_only_rootfs=True,
    cap_add=[],
    cap_drop=["ALL"],
    no_new_privileges=True,
    host_network=False,
    host_pid=False,
    host_ipc=False,
    mounts=[],
    memory_limit_bytes=256 << 20,
    cpu_limit=1.0,
    healthcheck=True,
    image_pinned_by_digest=True,
    image_mutable_tag=False,
    pids_limit=64,
    network_mode="inventory_default",
    restart_policy="no",
)
CONTAINER = Container(
    id="c" * 64, names=["web"], image="app:1", image_id="", state="running", status="Up", created=None
)


def rules(sec: Security, backend: str = "docker") -> list[str]:
    return [f.rule for f in evaluate_container(CONTAINER, sec, backend).findings]


def test_hardened_container_has_no_findings() -> None:
    report = evaluate_container(CONTAINER, HARDENED, "docker")
    assert report.findings == [] and report.score.value == 100.0 and report.score.grade == "A"


@pytest.mark.parametrize("user", ["", "0", "root", "0:0", "root:root"])
def test_root_users(user: str) -> None:
    assert "run-as-root" in rules(dataclasses.replace(HARDENED, user=user))


def test_findings_are_most_severe_first_and_carry_references() -> None:
    worst = dataclasses.replace(HARDENED, privileged=True, user="", read_only_rootfs=False, healthcheck=False)
    findings = evaluate_container(CONTAINER, worst, "docker").findings
    assert [f.rule for f in findings] == ["privileged", "run-as-root", "writable-rootfs", "no-healthcheck"]
    order = [SEVERITIES.index(f.severity) for f in findings]
    assert order == sorted(order)
    assert findings[0].references["cis"] == "5.5" and findings[0].remediation
    assert count(findings) == {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1}


def test_backend_scoping() -> None:
    # Docker-only rules never fire on Kubernetes and vice versa.
    sec = dataclasses.replace(HARDENED, pids_limit=None, run_as_non_root=None)
    assert "no-pids-limit" in rules(sec, "docker") and "no-pids-limit" not in rules(sec, "kubernetes")
    assert "run-as-non-root-not-enforced" not in rules(sec, "docker")


def test_score_is_severity_weighted_and_graded() -> None:
    weights = catalog().weights
    report = evaluate_container(CONTAINER, dataclasses.replace(HARDENED, privileged=True), "docker")
    assert report.score.value == 100 - weights["CRITICAL"] == 60.0 and report.score.grade == "C"
    floor = dataclasses.replace(HARDENED, privileged=True, host_ipc=True, host_pid=True, host_network=True, user="")
    assert evaluate_container(CONTAINER, floor, "docker").score.value == 0.0
    assert [grade(v) for v in (100, 90, 89.9, 75, 60, 40, 39.9, 0)] == ["A", "A", "B", "B", "C", "D", "F", "F"]
    assert overall_score([]).value == 100.0
    assert overall_score([report.score, evaluate_container(CONTAINER, HARDENED, "docker").score]).value == 80.0


def test_waived_findings_stay_but_do_not_count() -> None:
    risky = dataclasses.replace(HARDENED, privileged=True)
    waiver = Waiver("privileged", Target(name="we*"), "lab box", "team-a", date(2999, 1, 1))
    waived = evaluate_container(CONTAINER, risky, "docker", waivers=[waiver])
    assert waived.findings[0].waiver == waiver and waived.findings[0].to_dict()["waived"] is True
    assert waived.score.value == 100.0 and count(waived.findings)["CRITICAL"] == 0 and waived.waived == 1
    other = dataclasses.replace(waiver, target=Target(name="db"))
    assert evaluate_container(CONTAINER, risky, "docker", waivers=[other]).findings[0].waiver is None


def test_expired_waiver_no_longer_applies() -> None:
    risky = dataclasses.replace(HARDENED, privileged=True)
    expired = Waiver("privileged", Target(), "was a lab box", "team-a", date(2000, 1, 1))
    report = evaluate_container(CONTAINER, risky, "docker", waivers=[expired], today=date(2000, 1, 2))
    assert report.findings[0].waiver is None and report.score.grade == "C"
    on_the_day = evaluate_container(CONTAINER, risky, "docker", waivers=[expired], today=date(2000, 1, 1))
    assert on_the_day.findings[0].waiver == expired


def test_fingerprint_is_source_workload_and_rule() -> None:
    a = evaluate_container(CONTAINER, dataclasses.replace(HARDENED, privileged=True), "docker").findings[0]
    moved = dataclasses.replace(CONTAINER, id="d" * 64)
    b = evaluate_container(moved, dataclasses.replace(HARDENED, privileged=True), "docker").findings[0]
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 32 and a.workload == "name:web"
    c = evaluate_container(moved, dataclasses.replace(HARDENED, privileged=True), "docker", source="edge").findings[0]
    assert c.fingerprint != a.fingerprint
