"""SARIF and JUnit documents of a posture report, field by field: what a code-scanning tool or Jenkins shows
for each rule and finding (names, texts, references, fingerprints, suppressions, skips, counts). Meaning
(levels, suppression status) is in test_sarif_meaning.py, schema validity in test_reports.py."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from inventory.posture import evaluate_container
from inventory.posture.catalog import Rule, catalog
from inventory.posture.engine import build_report
from inventory.posture.formats import _sarif_rule, encode, to_junit, to_sarif
from inventory.posture.report import PostureReport
from test_sarif_meaning import CONTAINER, FLAWED, WAIVER

REFS = {
    "cis": "5.5",
    "cis_v1_6": "5.4",
    "pss": {"level": "baseline", "control": "Privileged Containers"},
    "nsa": "Pod security",
}
RULE = Rule("host-thing", "HIGH", "Shares the host's thing (v2)", "Why.", "Do not.", REFS, ("docker",))
URI = "https://github.com/container-inventory/container-inventory#posture"


def report() -> PostureReport:
    container = evaluate_container(CONTAINER, FLAWED, "docker", waivers=[WAIVER])
    return build_report("local", "docker", [container], waivers=[WAIVER])


def test_a_sarif_rule_carries_texts_references_and_severity() -> None:
    assert _sarif_rule(RULE) == {
        "id": "host-thing",
        "name": "SharesTheHostSThingV2",
        "shortDescription": {"text": "Shares the host's thing (v2)."},
        "fullDescription": {"text": "Why."},
        "help": {
            "text": "Do not. References: CIS Docker Benchmark v1.8.0 5.5 (v1.6.0 5.4); "
            "Pod Security Standards baseline: Privileged Containers; NSA/CISA Kubernetes Hardening Guide: Pod security."
        },
        "helpUri": f"{URI}-host-thing",
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "security-severity": "8.0",
            "severity": "HIGH",
            "tags": ["security", "container", "cis", "nsa", "pss"],
            "references": REFS,
        },
    }


def test_a_sarif_rule_without_references_has_the_remediation_as_help() -> None:
    bare = Rule("bare", "LOW", "Bare", "Why.", "Do not.", {}, ("docker",))
    sarif = _sarif_rule(bare)
    assert sarif["help"] == {"text": "Do not."}
    assert sarif["properties"]["tags"] == ["security", "container"]
    assert sarif["properties"]["security-severity"] == "2.0"


def test_the_sarif_run_and_its_results() -> None:
    rep = report()
    doc = to_sarif(rep, "9.9.9")
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json" and doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["informationUri"]) == ("container-inventory", "9.9.9", URI)
    assert [r["id"] for r in driver["rules"]] == [r.id for r in rep.rules]
    assert run["automationDetails"] == {"id": "container-inventory/local/"}
    assert run["properties"] == {"score": {"value": 44.0, "grade": "D"}, "backend": "docker"}
    ids = [r["id"] for r in driver["rules"]]
    assert [(r["ruleId"], r["ruleIndex"]) for r in run["results"]] == [
        (f.rule, ids.index(f.rule)) for f in rep.findings
    ]
    first, finding = run["results"][0], rep.findings[0]
    privileged = catalog().by_id["privileged"]
    assert first == {
        "ruleId": "privileged",
        "ruleIndex": ids.index("privileged"),
        "level": "error",
        "message": {"text": f"Container runs privileged: web (app:1). {privileged.remediation}"},
        "locations": [{"logicalLocations": [{"name": "web", "fullyQualifiedName": "local/web", "kind": "resource"}]}],
        "partialFingerprints": {"containerInventoryFinding/v2": finding.fingerprint},
        "properties": {"severity": "CRITICAL", "image": "app:1", "containerId": CONTAINER.id},
    }
    (waived,) = [r for r in run["results"] if "suppressions" in r]
    assert waived["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "needs a writable cache dir (owner team-a, until 2999-01-01, file)",
        }
    ]


def attrs(el: ET.Element) -> dict[str, Any]:
    return dict(el.attrib)


def test_junit_has_a_suite_per_container_and_a_case_per_rule() -> None:
    rep = report()
    raw = to_junit(rep)
    assert raw.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<testsuites ")
    root = ET.fromstring(raw)
    n = str(len(rep.rules))
    counts = {"tests": n, "failures": "3", "skipped": "1", "errors": "0"}
    assert attrs(root) == {"name": "container-inventory posture (local)", **counts}
    (suite,) = root
    assert attrs(suite) == {"name": "local/web", **counts}
    cases = {c.get("name"): c for c in suite}
    assert list(cases) == [r.id for r in rep.rules]
    assert {c.get("classname") for c in suite} == {"posture.local.web"}
    (failure,) = cases["privileged"]
    privileged = catalog().by_id["privileged"]
    assert attrs(failure) == {"message": "CRITICAL: Container runs privileged", "type": "CRITICAL"}
    assert failure.text == (
        f"{privileged.remediation}\nReferences: CIS Docker Benchmark v1.8.0 5.5 (v1.6.0 5.5); "
        "Pod Security Standards baseline: Privileged Containers; "
        f"NSA/CISA Kubernetes Hardening Guide: {privileged.references['nsa']}"
    )
    (skipped,) = cases["writable-rootfs"]
    assert skipped.tag == "skipped"
    assert attrs(skipped) == {"message": "waived: needs a writable cache dir (owner team-a, until 2999-01-01)"}
    assert list(cases["docker-socket-mounted"]) == []


def test_junit_of_no_container_counts_nothing() -> None:
    root = ET.fromstring(to_junit(build_report("local", "docker", [], waivers=[])))
    assert attrs(root) == {
        "name": "container-inventory posture (local)", "tests": "0", "failures": "0", "skipped": "0", "errors": "0",
    }  # fmt: skip


def test_junit_counts_every_waived_finding_as_skipped() -> None:
    also = dataclasses.replace(WAIVER, rule="no-healthcheck")
    container = evaluate_container(CONTAINER, FLAWED, "docker", waivers=[WAIVER, also])
    root = ET.fromstring(to_junit(build_report("local", "docker", [container], waivers=[WAIVER, also])))
    assert (root.get("failures"), root.get("skipped")) == ("2", "2")
    assert (root[0].get("failures"), root[0].get("skipped")) == ("2", "2")


def test_encode_gives_the_sarif_or_junit_bytes_and_refuses_any_other_format() -> None:
    rep = report()
    assert json.loads(encode(rep, "sarif", "1.2.3")) == to_sarif(rep, "1.2.3")
    assert encode(rep, "junit", "1.2.3") == to_junit(rep)
    with pytest.raises(ValueError, match=r"^no document encoding for format 'json'$"):
        encode(rep, "json", "1.2.3")
