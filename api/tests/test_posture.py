from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from inventory.backends.base import Container, Mount, Security
from inventory.posture import RULES, RULES_BY_ID, SEVERITIES, Target, Waiver, count, evaluate_container
from inventory.posture.checks import CHECKS

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
)
SOCKET = Mount(
    type="bind", source="/var/run/docker.sock", destination="/var/run/docker.sock", read_only=True, docker_socket=True
)

BREAKS = {
    "privileged": {"privileged": True},
    "docker-socket-mounted": {"mounts": [SOCKET]},
    "run-as-root": {"user": ""},
    "host-network": {"host_network": True},
    "host-pid": {"host_pid": True},
    "added-capabilities": {"cap_add": ["NET_ADMIN"]},
    "writable-rootfs": {"read_only_rootfs": False},
    "no-memory-limit": {"memory_limit_bytes": None},
    "privilege-escalation": {"no_new_privileges": False},
    "no-healthcheck": {"healthcheck": False},
    "mutable-image-tag": {"image_mutable_tag": True},
}


CONTAINER = Container(
    id="c" * 64, names=["web"], image="app:1", image_id="", state="running", status="Up", created=None
)


def evaluate(sec: Security, waivers: tuple[Waiver, ...] = ()) -> list[dict]:
    return [f.to_dict() for f in evaluate_container(CONTAINER, sec, "docker", waivers=waivers).findings]


def totals(findings: list[dict]) -> dict[str, int]:
    return {sev: sum(1 for f in findings if f["severity"] == sev and not f["waived"]) for sev in SEVERITIES}


def test_every_catalog_rule_has_a_check() -> None:
    assert set(CHECKS) == set(RULES_BY_ID)


def test_hardened_container_has_no_findings() -> None:
    assert evaluate(HARDENED) == []


def test_every_rule_has_a_breaking_case() -> None:
    assert set(BREAKS) == set(RULES_BY_ID)


@pytest.mark.parametrize("rule_id", sorted(BREAKS))
def test_each_rule_fires_alone(rule_id: str) -> None:
    findings = evaluate(dataclasses.replace(HARDENED, **BREAKS[rule_id]))
    assert [f["rule"] for f in findings] == [rule_id]
    assert findings[0]["severity"] == RULES_BY_ID[rule_id].severity and findings[0]["fix"]


@pytest.mark.parametrize("user", ["", "0", "root", "0:0", "root:root"])
def test_root_users(user: str) -> None:
    assert "run-as-root" in [f["rule"] for f in evaluate(dataclasses.replace(HARDENED, user=user))]


def test_totals_and_ordering() -> None:
    worst = dataclasses.replace(HARDENED, **{k: v for b in BREAKS.values() for k, v in b.items()})
    findings = evaluate(worst)
    assert len(findings) == len(RULES)
    order = [SEVERITIES.index(f["severity"]) for f in findings]
    assert order == sorted(order)
    assert totals(findings) == {"CRITICAL": 2, "HIGH": 4, "MEDIUM": 3, "LOW": 2}


def test_scores_and_waivers() -> None:
    report = evaluate_container(CONTAINER, dataclasses.replace(HARDENED, privileged=True), "docker")
    assert report.score.value == 60.0 and report.score.grade == "C"
    waiver = Waiver("privileged", Target(name="we*"), "lab box", "team-a", date(2999, 1, 1))
    waived = evaluate_container(CONTAINER, dataclasses.replace(HARDENED, privileged=True), "docker", waivers=[waiver])
    assert waived.findings[0].waiver == waiver and waived.score.value == 100.0
    assert count(waived.findings)["CRITICAL"] == 0
    expired = dataclasses.replace(waiver, expires=date(2000, 1, 1))
    again = evaluate_container(CONTAINER, dataclasses.replace(HARDENED, privileged=True), "docker", waivers=[expired])
    assert again.findings[0].waiver is None and again.score.grade == "C"
