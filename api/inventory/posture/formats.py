"""Report renderings of a PostureReport: SARIF 2.1.0, JUnit XML (as Jenkins' JUnit plugin reads it), a text table.

JSON is ``PostureReport.to_dict()``. Every format carries the same verdicts: waived findings become SARIF
suppressions and JUnit skips, so CI tools neither fail on them nor lose them.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # nosec B405 - builds XML, never parses input
from collections.abc import Mapping
from typing import Any

from .catalog import Rule
from .report import Finding, PostureReport

INFORMATION_URI = "https://github.com/container-inventory/container-inventory#posture"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note"}
SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0"}
FORMATS = {
    "json": "application/json",
    "sarif": "application/sarif+json",
    "junit": "application/xml",
}


def _references_text(refs: dict[str, Any]) -> str:
    parts = []
    if "cis" in refs:
        parts.append(f"CIS Docker Benchmark v1.8.0 {refs['cis']} (v1.6.0 {refs['cis_v1_6']})")
    if "pss" in refs:
        parts.append(f"Pod Security Standards {refs['pss']['level']}: {refs['pss']['control']}")
    if "nsa" in refs:
        parts.append(f"NSA/CISA Kubernetes Hardening Guide: {refs['nsa']}")
    return "; ".join(parts)


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    refs = _references_text(rule.references)
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in re.findall(r"[A-Za-z0-9]+", rule.title)),
        "shortDescription": {"text": rule.title + "."},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": f"{rule.remediation} References: {refs}." if refs else rule.remediation},
        "helpUri": f"{INFORMATION_URI}-{rule.id}",
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "severity": rule.severity,
            "tags": ["security", "container", *sorted(k for k in rule.references if k != "cis_v1_6")],
            "references": rule.references,
        },
    }


def _sarif_result(f: Finding, index: int, report: PostureReport, state: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": SARIF_LEVEL[f.severity],
        "message": {"text": f"{f.title}: {f.target} ({f.image}). {f.remediation}"},
        "locations": [
            {
                "logicalLocations": [
                    {
                        "name": f.target,
                        "fullyQualifiedName": f"{report.source}/{f.target}",
                        "kind": "resource",
                    }
                ]
            }
        ],
        "partialFingerprints": {"containerInventoryFinding/v2": f.fingerprint},
        "properties": {"severity": f.severity, "image": f.image, "containerId": f.container_id},
    }
    if state is not None:
        result["baselineState"] = state
    if f.waiver is not None:
        w = f.waiver
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{w.reason} (owner {w.owner}, until {w.expires.isoformat()}, {w.origin})",
            }
        ]
    return result


def to_sarif(report: PostureReport, version: str, states: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``states``: each finding's baselineState by fingerprint (inventory.findings.baseline), when compared."""
    index = {r.id: i for i, r in enumerate(report.rules)}
    results = [
        _sarif_result(f, index[f.rule], report, states.get(f.fingerprint) if states else None)
        for f in report.findings
        if f.rule in index
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "container-inventory",
                        "version": version,
                        "informationUri": INFORMATION_URI,
                        "rules": [_sarif_rule(r) for r in report.rules],
                    }
                },
                "automationDetails": {"id": f"container-inventory/{report.source}/"},
                "results": results,
                "properties": {"score": report.score.to_dict(), "backend": report.backend},
            }
        ],
    }


def to_junit(report: PostureReport, states: Mapping[str, str] | None = None) -> bytes:
    """One <testsuite> per container, one <testcase> per rule that applies: failure = finding, skipped = waived.
    With ``states`` (baselineState by fingerprint) a finding's testcase carries it as a property."""
    root = ET.Element("testsuites", name=f"container-inventory posture ({report.source})")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for c in report.containers:
        by_rule = {f.rule: f for f in c.findings}
        suite = ET.SubElement(root, "testsuite", name=f"{report.source}/{c.name}")
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for rule in report.rules:
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", classname=f"posture.{report.source}.{c.name}", name=rule.id)
            f = by_rule.get(rule.id)
            if f is None:
                continue
            if states and f.fingerprint in states:
                props = ET.SubElement(case, "properties")
                ET.SubElement(props, "property", name="baselineState", value=states[f.fingerprint])
            if f.waiver is not None:
                counts["skipped"] += 1
                w = f.waiver
                ET.SubElement(case, "skipped", message=f"waived: {w.reason} (owner {w.owner}, until {w.expires})")
            else:
                counts["failures"] += 1
                failure = ET.SubElement(case, "failure", message=f"{f.severity}: {f.title}", type=f.severity)
                failure.text = f"{f.remediation}\nReferences: {_references_text(f.references)}"
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("errors", "0")
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def to_table(report: PostureReport) -> str:
    rows = [("SEVERITY", "RULE", "TARGET", "WAIVED")]
    for f in report.findings:
        rows.append((f.severity, f.rule, f.target, f"until {f.waiver.expires}" if f.waiver else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    t = report.totals
    lines.append("")
    lines.append(
        f"{len(report.containers)} containers, score {report.score.value:g} ({report.score.grade}); "
        + ", ".join(f"{sev} {n}" for sev, n in t.items())
        + f"; waived {report.waived}"
    )
    for w in report.expired_waivers:
        lines.append(f"expired waiver: {w.rule} {w.target.to_dict()} (owner {w.owner}, expired {w.expires})")
    return "\n".join(lines) + "\n"


def encode(report: PostureReport, fmt: str, version: str) -> bytes:
    """The report as a document of ``fmt`` (sarif or junit; JSON answers are rendered by the API with the
    caller's address)."""
    if fmt == "sarif":
        return json.dumps(to_sarif(report, version)).encode()
    if fmt == "junit":
        return to_junit(report)
    raise ValueError(f"no document encoding for format {fmt!r}")
