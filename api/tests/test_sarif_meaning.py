"""SARIF means what the catalog says, not only what the schema allows (the Multitool checks the schema):
a finding of severity CRITICAL or HIGH is an `error` (it fails a SARIF gate), MEDIUM a `warning`, LOW a `note`,
on each result and on its rule's default; a waived finding is a suppression the owner *accepted* (a waiver
is a decision, not something pending review)."""

from __future__ import annotations

import dataclasses
from datetime import date

from inventory.posture import Target, Waiver, evaluate_container
from inventory.posture.engine import build_report
from inventory.posture.formats import to_sarif
from test_posture import CONTAINER, HARDENED

# One finding per severity: privileged (CRITICAL), run-as-root (HIGH), writable-rootfs (MEDIUM), no-healthcheck (LOW).
FLAWED = dataclasses.replace(HARDENED, privileged=True, user="", read_only_rootfs=False, healthcheck=False)
EXPECTED_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note"}
WAIVER = Waiver("writable-rootfs", Target(name="web"), "needs a writable cache dir", "team-a", date(2999, 1, 1))


def sarif_run() -> dict:
    container = evaluate_container(CONTAINER, FLAWED, "docker", waivers=[WAIVER])
    report = build_report("local", "docker", [container], waivers=[WAIVER])
    (run,) = to_sarif(report, "test")["runs"]
    return run


def test_levels_follow_severity_on_results_and_rules() -> None:
    run = sarif_run()
    severities = {r["ruleId"]: r["properties"]["severity"] for r in run["results"]}
    assert set(severities.values()) == set(EXPECTED_LEVEL)  # one result of each severity
    for result in run["results"]:
        assert result["level"] == EXPECTED_LEVEL[result["properties"]["severity"]], result["ruleId"]
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["defaultConfiguration"]["level"] == EXPECTED_LEVEL[rule["properties"]["severity"]], rule["id"]


def test_waived_finding_is_an_accepted_suppression_and_only_it() -> None:
    run = sarif_run()
    suppressed = {r["ruleId"]: r["suppressions"] for r in run["results"] if "suppressions" in r}
    assert list(suppressed) == ["writable-rootfs"]
    (suppression,) = suppressed["writable-rootfs"]
    assert suppression["status"] == "accepted" and suppression["kind"] == "external"
    assert "needs a writable cache dir" in suppression["justification"] and "team-a" in suppression["justification"]
