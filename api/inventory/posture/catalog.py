"""The rule catalog: ``catalog.yaml`` (next to this file) is the single source of rule ids, severities,
texts, standards references and admission CEL (``catalog.schema.json`` says what each field may hold). The
admission policies (deploy/policies), the alerts, the docs' catalog table and ``inventory-scan`` all read it;
the checks live in ``checks.py``. Each rule's cases are files in ``rules/<rule id>/{fail,pass}/`` (read only by
the tests, never by the API).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
RULES_DIR = Path(__file__).with_name("rules")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
BACKENDS = ("docker", "kubernetes")
VERDICTS = ("fail", "pass")
_CASE_FILE = re.compile(rf"^({'|'.join(BACKENDS)})(?:-([a-z0-9]+(?:-[a-z0-9]+)*))?\.yaml$")


@dataclass(frozen=True)
class Case:
    """One file ``rules/<rule>/<verdict>/<backend>[-<variant>].yaml``: a deviation from the backend's hardened
    baseline (catalog.yaml ``baselines``) and what the rules must say about it."""

    rule: str
    verdict: str  # "fail": exactly ``rule`` and ``also`` fire; "pass": nothing fires
    backend: str
    variant: str  # "" for <backend>.yaml
    deviation: dict[str, Any]
    also: tuple[str, ...] = ()  # rules the same deviation necessarily breaks too

    @property
    def id(self) -> str:
        return "-".join(part for part in (self.rule, self.verdict, self.variant) if part)

    @property
    def expected(self) -> set[str]:
        return {self.rule, *self.also} if self.verdict == "fail" else set()


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    rationale: str
    remediation: str
    references: dict[str, Any]
    backends: tuple[str, ...]
    limits: str = ""  # what the engine API cannot decide about this rule
    admission: dict[str, Any] | None = None  # CEL for pods; None when the rule does not apply at admission

    @property
    def fix(self) -> str:
        return self.remediation

    @property
    def cases(self) -> tuple[Case, ...]:
        """This rule's case files (tests only: the API never reads them)."""
        return rule_cases(self.id)

    def applies_to(self, backend: str) -> bool:
        return backend in self.backends

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "fix": self.remediation,
            "remediation": self.remediation,
            "rationale": self.rationale,
            "references": self.references,
            "backends": list(self.backends),
            "limits": self.limits,
        }


@dataclass(frozen=True)
class Catalog:
    rules: tuple[Rule, ...]
    weights: dict[str, int]
    grades: tuple[tuple[str, float], ...]  # (grade, minimum score), best first
    baselines: dict[str, Any]

    @property
    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}


class CatalogError(ValueError):
    """The catalog file is inconsistent (a bug in the repository, caught by the unit tests)."""


def _rule(raw: dict[str, Any]) -> Rule:
    if raw.get("severity") not in SEVERITIES:
        raise CatalogError(f"rule {raw.get('id')!r}: severity {raw.get('severity')!r} not in {SEVERITIES}")
    backends = tuple(raw.get("backends") or ())
    if not backends or set(backends) - set(BACKENDS):
        raise CatalogError(f"rule {raw['id']!r}: backends {backends!r} must be a non-empty subset of {BACKENDS}")
    return Rule(
        id=raw["id"],
        severity=raw["severity"],
        title=raw["title"].strip(),
        rationale=" ".join(raw["rationale"].split()),
        remediation=" ".join(raw["remediation"].split()),
        references=dict(raw.get("references") or {}),
        backends=backends,
        limits=" ".join((raw.get("limits") or "").split()),
        admission=raw.get("admission"),
    )


@functools.cache
def rule_cases(rule_id: str, root: Path = RULES_DIR) -> tuple[Case, ...]:
    """The case files of one rule, failing before passing, each verdict by file name."""
    cases = []
    for verdict in VERDICTS:
        for path in sorted((root / rule_id / verdict).glob("*")):
            match = _CASE_FILE.match(path.name)
            if match is None:
                raise CatalogError(f"{path}: a case file is named <backend>[-<variant>].yaml, backend in {BACKENDS}")
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or not isinstance(doc.get("deviation"), dict):
                raise CatalogError(f"{path}: a case is a mapping with a `deviation` mapping")
            also = doc.get("also") or []
            if verdict == "pass" and also:
                raise CatalogError(f"{path}: a passing case breaks no rule, so it has no `also`")
            cases.append(Case(rule_id, verdict, match[1], match[2] or "", doc["deviation"], tuple(also)))
    return tuple(cases)


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = tuple(_rule(r) for r in doc["rules"])
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise CatalogError("duplicate rule ids in the catalog")
    order = sorted(rules, key=lambda r: SEVERITIES.index(r.severity))  # stable: most severe first, file order within
    grades = tuple((str(g["grade"]), float(g["min"])) for g in doc["grades"])
    return Catalog(rules=tuple(order), weights=dict(doc["weights"]), grades=grades, baselines=doc.get("baselines", {}))


@functools.cache
def catalog() -> Catalog:
    return load_catalog()
