"""The rule catalog: ``catalog.yaml`` (next to this file) is the single source of rule ids, severities,
texts, standards references, admission CEL and fixtures. The admission policies (deploy/policies), the
alerts, the docs' catalog table and ``inventory-scan`` all read it; the checks live in ``checks.py``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
BACKENDS = ("docker", "kubernetes")


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
    fixtures: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def fix(self) -> str:
        return self.remediation

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
        fixtures=dict(raw.get("fixtures") or {}),
    )


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
