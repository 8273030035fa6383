"""Baseline-aware gates: compare this run's findings with a previous report by stable fingerprint.

A baseline is a previous report of ours: JSON (``inventory-scan --format json`` or ``/api/posture``) or SARIF (its
``partialFingerprints``). Each current finding is ``new`` (absent from the baseline), ``unchanged`` or ``updated``
(same fingerprint, another severity); a baseline finding no longer found is ``absent`` (SARIF's baselineState
values). A gate (``new:high``, ``new:any``, ``all:critical``, or a bare severity meaning ``all:<severity>``) fails
on unwaived findings in its scope at or above its severity.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..posture.catalog import SEVERITIES
from ..posture.report import Finding

SARIF_FINGERPRINT = "containerInventoryFinding/v2"
STATES = ("new", "unchanged", "updated", "absent")
SCOPES = ("new", "all")
MAX_BASELINE_BYTES = 32 * 1024 * 1024


class BaselineError(ValueError):
    """The baseline or the gate cannot be used (one line: which file or value, and why)."""


@dataclass(frozen=True)
class Known:
    """A finding as the baseline recorded it."""

    fingerprint: str
    rule: str
    severity: str
    target: str


def _known_from_json(doc: Mapping[str, Any]) -> dict[str, Known]:
    out: dict[str, Known] = {}
    for c in doc["containers"]:
        for f in c["findings"]:
            out[str(f["fingerprint"])] = Known(
                str(f["fingerprint"]), str(f["rule"]), str(f["severity"]), str(c["name"])
            )
    return out


def _known_from_sarif(doc: Mapping[str, Any]) -> dict[str, Known]:
    out: dict[str, Known] = {}
    for run in doc["runs"]:
        for r in run.get("results", []):
            if r.get("baselineState") == "absent":
                continue  # a finding that was already gone when that report was written
            fp = r.get("partialFingerprints", {}).get(SARIF_FINGERPRINT)
            if not fp:
                raise BaselineError(
                    f"a SARIF result of rule {r.get('ruleId')!r} has no {SARIF_FINGERPRINT} fingerprint"
                )
            target = r["locations"][0]["logicalLocations"][0]["name"] if r.get("locations") else ""
            out[str(fp)] = Known(str(fp), str(r["ruleId"]), str(r["properties"]["severity"]), str(target))
    return out


def read_baseline(data: bytes, origin: str) -> dict[str, Known]:
    """The findings of a previous JSON or SARIF report, by fingerprint."""
    if len(data) > MAX_BASELINE_BYTES:
        raise BaselineError(f"baseline {origin}: larger than {MAX_BASELINE_BYTES // (1024 * 1024)} MiB")
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise BaselineError(f"baseline {origin}: not JSON ({exc.__class__.__name__} at {exc})") from None
    try:
        if isinstance(doc, dict) and "runs" in doc:
            return _known_from_sarif(doc)
        if isinstance(doc, dict) and "containers" in doc:
            return _known_from_json(doc)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BaselineError(f"baseline {origin}: not a report of ours (missing {exc})") from None
    raise BaselineError(f"baseline {origin}: neither a SARIF log nor a JSON posture report")


@dataclass(frozen=True)
class Comparison:
    """Each current finding's state by fingerprint, and the baseline's findings that are gone."""

    states: Mapping[str, str]
    absent: tuple[Known, ...]

    def state(self, finding: Finding) -> str:
        return self.states[finding.fingerprint]

    def count(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for s in self.states.values():
            counts[s] += 1
        counts["absent"] = len(self.absent)
        return counts


def compare(findings: Iterable[Finding], baseline: Mapping[str, Known]) -> Comparison:
    states: dict[str, str] = {}
    for f in findings:
        before = baseline.get(f.fingerprint)
        states[f.fingerprint] = "new" if before is None else "unchanged" if before.severity == f.severity else "updated"
    absent = tuple(sorted((k for fp, k in baseline.items() if fp not in states), key=lambda k: (k.rule, k.target)))
    return Comparison(states, absent)


@dataclass(frozen=True)
class Gate:
    scope: str  # new | all
    threshold: str | None  # a severity, or None for any

    @classmethod
    def parse(cls, text: str) -> Gate:
        scope, _, level = text.rpartition(":")
        scope = scope.lower() or "all"
        level = level.upper()
        if scope not in SCOPES or (level != "ANY" and level not in SEVERITIES):
            choices = ", ".join(s.lower() for s in SEVERITIES)
            raise BaselineError(f"--fail-on {text!r}: expected [new:|all:]<any|{choices}>, e.g. new:high")
        return cls(scope, None if level == "ANY" else level)

    @property
    def needs_baseline(self) -> bool:
        return self.scope == "new"

    def failing(self, findings: Iterable[Finding], comparison: Comparison | None) -> list[Finding]:
        if self.needs_baseline and comparison is None:
            raise BaselineError(f"--fail-on {self.scope}:… needs --baseline")
        worst = len(SEVERITIES) - 1 if self.threshold is None else SEVERITIES.index(self.threshold)
        return [
            f
            for f in findings
            if not f.waived
            and SEVERITIES.index(f.severity) <= worst
            and (comparison is None or self.scope == "all" or comparison.state(f) == "new")
        ]

    def describe(self) -> str:
        what = "any severity" if self.threshold is None else f"at or above {self.threshold}"
        return f"{'new ' if self.scope == 'new' else ''}unwaived finding(s) {what}"


def sarif_absent(known: Known, rule_index: Mapping[str, int]) -> dict[str, Any]:
    """A SARIF result for a baseline finding that is gone (kind pass, level none, baselineState absent)."""
    result: dict[str, Any] = {
        "ruleId": known.rule,
        "kind": "pass",
        "level": "none",
        "baselineState": "absent",
        "message": {"text": f"No longer found: {known.rule} on {known.target}."},
        "partialFingerprints": {SARIF_FINGERPRINT: known.fingerprint},
        "properties": {"severity": known.severity},
    }
    if known.rule in rule_index:
        result["ruleIndex"] = rule_index[known.rule]
    return result


def annotate_sarif(doc: dict[str, Any], comparison: Comparison) -> dict[str, Any]:
    """Add the baseline's absent findings to a SARIF log made with ``to_sarif(..., states)``."""
    run = doc["runs"][0]
    index = {r["id"]: i for i, r in enumerate(run["tool"]["driver"]["rules"])}
    run["results"].extend(sarif_absent(k, index) for k in comparison.absent)
    run["properties"]["baseline"] = comparison.count()
    return doc


def annotate_json(doc: dict[str, Any], comparison: Comparison) -> dict[str, Any]:
    """A JSON posture report with each finding's ``baseline_state`` and a ``baseline`` block (counts, absent)."""
    for c in doc["containers"]:
        for f in c["findings"]:
            f["baseline_state"] = comparison.states.get(f["fingerprint"], "new")
    doc["baseline"] = {
        "counts": comparison.count(),
        "absent": [
            {"fingerprint": k.fingerprint, "rule": k.rule, "severity": k.severity, "target": k.target}
            for k in comparison.absent
        ],
    }
    return doc
