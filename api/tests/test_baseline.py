"""Baselines and gates (inventory.findings.baseline) on the recorded Docker posture report: compare by fingerprint,
read our own JSON and SARIF back, gate on new findings only, and refuse bad baselines and gates in one line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import RecordedBackend, make_app
from inventory.findings.baseline import (
    BaselineError,
    Gate,
    Known,
    annotate_json,
    annotate_sarif,
    compare,
    read_baseline,
)
from inventory.posture.formats import to_junit, to_sarif
from inventory.posture.report import PostureReport


@pytest.fixture()
def report(backend: RecordedBackend) -> PostureReport:
    found: PostureReport = make_app(backend).extensions["inventory"].posture(include_stopped=True)
    assert len(found.findings) >= 4, "the recorded containers have findings of several severities"
    return found


def _without(report: PostureReport, rule: str) -> PostureReport:
    containers = [replace(c, findings=[f for f in c.findings if f.rule != rule]) for c in report.containers]
    return replace(report, containers=containers)


def test_json_and_sarif_baselines_read_back_the_same_findings(report: PostureReport) -> None:
    from_json = read_baseline(json.dumps(report.to_dict()).encode(), "report.json")
    from_sarif = read_baseline(json.dumps(to_sarif(report, "1")).encode(), "report.sarif")
    assert from_json == from_sarif
    assert set(from_json) == {f.fingerprint for f in report.findings}


def test_states_new_unchanged_updated_absent(report: PostureReport) -> None:
    gone = report.findings[0].rule
    new_rule = next(f.rule for f in report.findings if f.rule != gone)
    base = read_baseline(json.dumps(_without(report, new_rule).to_dict()).encode(), "b")
    first_kept = next(f for f in report.findings if f.rule not in (gone, new_rule))
    base[first_kept.fingerprint] = replace(
        base[first_kept.fingerprint], severity="LOW" if first_kept.severity != "LOW" else "HIGH"
    )
    base["f" * 32] = Known("f" * 32, "privileged", "CRITICAL", "retired-db")
    comparison = compare(report.findings, base)
    assert {f.fingerprint for f in report.findings if f.rule == new_rule} == {
        fp for fp, s in comparison.states.items() if s == "new"
    }
    assert comparison.states[first_kept.fingerprint] == "updated"
    assert [k.target for k in comparison.absent] == ["retired-db"]
    counts = comparison.count()
    # Replicas of one workload share a fingerprint (source, workload, rule): states are per fingerprint.
    distinct = {f.fingerprint for f in report.findings}
    assert counts["absent"] == 1 and counts["updated"] == 1 and sum(counts.values()) == len(distinct) + 1


def test_gates_fail_only_on_new_findings_in_scope(report: PostureReport) -> None:
    worst = min(report.findings, key=lambda f: ("CRITICAL", "HIGH", "MEDIUM", "LOW").index(f.severity))
    base = read_baseline(json.dumps(_without(report, worst.rule).to_dict()).encode(), "b")
    comparison = compare(report.findings, base)
    new_worst = [f for f in report.findings if f.rule == worst.rule and not f.waived]
    assert Gate.parse("new:any").failing(report.findings, comparison) == new_worst
    assert Gate.parse(f"new:{worst.severity.lower()}").failing(report.findings, comparison) == new_worst
    all_low = Gate.parse("all:low").failing(report.findings, comparison)
    assert len(all_low) == sum(1 for f in report.findings if not f.waived) > len(new_worst)
    assert Gate.parse("HIGH") == Gate("all", "HIGH"), "a bare severity keeps its old meaning"
    unchanged = compare(report.findings, read_baseline(json.dumps(report.to_dict()).encode(), "same"))
    assert Gate.parse("new:any").failing(report.findings, unchanged) == []
    with pytest.raises(BaselineError, match="needs --baseline"):
        Gate.parse("new:high").failing(report.findings, None)


@pytest.mark.parametrize("text", ["new:urgent", "old:high", "", "new:", "all:none"])
def test_bad_gate_is_one_line(text: str) -> None:
    with pytest.raises(BaselineError, match=r"expected \[new:\|all:\]<any\|critical, high, medium, low>"):
        Gate.parse(text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "neither a SARIF log nor a JSON posture report"),
        (b'{"runs": [{"results": [{"ruleId": "x"}]}]}', "has no containerInventoryFinding/v2 fingerprint"),
        (b'{"containers": [{"findings": [{"rule": "x"}]}]}', "not a report of ours"),
        (b" " * (32 * 1024 * 1024 + 1), "larger than 32 MiB"),
    ],
)
def test_bad_baselines_are_one_line(data: bytes, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        read_baseline(data, "prev.json")


def test_documents_carry_the_state(report: PostureReport, tmp_path: Path) -> None:
    base = read_baseline(json.dumps(_without(report, report.findings[0].rule).to_dict()).encode(), "b")
    base["e" * 32] = Known("e" * 32, "privileged", "CRITICAL", "retired-db")
    comparison = compare(report.findings, base)
    sarif: dict[str, Any] = annotate_sarif(to_sarif(report, "1", comparison.states), comparison)
    results = sarif["runs"][0]["results"]
    assert {r["baselineState"] for r in results} == {"new", "unchanged", "absent"}
    absent = [r for r in results if r["baselineState"] == "absent"]
    assert absent[0]["kind"] == "pass" and absent[0]["level"] == "none"
    assert read_baseline(json.dumps(sarif).encode(), "annotated") == {
        f.fingerprint: k
        for f in report.findings
        for k in [base.get(f.fingerprint) or Known(f.fingerprint, f.rule, f.severity, f.target)]
    }, "absent results are not findings of the annotated report"
    doc = annotate_json(report.to_dict(), comparison)
    assert doc["baseline"]["absent"][0]["target"] == "retired-db"
    assert {f["baseline_state"] for c in doc["containers"] for f in c["findings"]} == {"new", "unchanged"}
    junit = to_junit(report, comparison.states).decode()
    new_cases = sum(1 for f in report.findings if comparison.state(f) == "new")
    assert junit.count('name="baselineState" value="new"') == new_cases > 0
