"""Build the rules' cases (``api/inventory/posture/rules/<rule>/{fail,pass}/``): baseline + one deviation, as a pod
(Kubernetes) or `docker create` args.

Test support, not product code: used by the unit tests, the real-container integration test and the admission
parity test.
"""

from __future__ import annotations

import copy
from typing import Any

from inventory.posture.catalog import Catalog, Rule, catalog


def main_cases(rule: Rule) -> dict[str, dict[str, Any]]:
    """The cases named ``<backend>.yaml`` as {backend: {"fail": deviation, "pass": deviation, "also": [...]}}."""
    out: dict[str, dict[str, Any]] = {}
    for case in rule.cases:
        if not case.variant:
            entry = out.setdefault(case.backend, {})
            entry[case.verdict] = case.deviation
            if case.also:
                entry["also"] = list(case.also)
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (null deletes, objects merge, everything else replaces)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def pod(deviation: dict[str, Any] | None = None, cat: Catalog | None = None, name: str = "fixture") -> dict[str, Any]:
    """The hardened baseline pod with ``deviation`` applied (keys ``pod`` and ``container``)."""
    cat = cat or catalog()
    doc = copy.deepcopy(cat.baselines["kubernetes"])
    deviation = deviation or {}
    doc = merge_patch(doc, deviation.get("pod") or {})
    doc["metadata"]["name"] = name
    doc["metadata"]["uid"] = f"uid-{name}"
    containers = doc["spec"]["containers"]
    containers[0] = merge_patch(containers[0], deviation.get("container") or {})
    result: dict[str, Any] = doc
    return result


def pod_cases(cat: Catalog | None = None) -> list[tuple[str, str, dict[str, Any], set[str]]]:
    """(case id, rule, pod, expected violated rule ids) for the baseline and every kubernetes case."""
    cat = cat or catalog()
    cases: list[tuple[str, str, dict[str, Any], set[str]]] = [("baseline", "", pod(None, cat, "baseline"), set())]
    for rule in cat.rules:
        for case in rule.cases:
            if case.backend == "kubernetes":
                cases.append((case.id, rule.id, pod(case.deviation, cat, case.id), case.expected))
    return cases


def docker_options(deviation: dict[str, Any] | None = None, cat: Catalog | None = None) -> dict[str, Any]:
    """Baseline `docker create` options with ``deviation`` applied (None removes an option)."""
    cat = cat or catalog()
    options = dict(cat.baselines["docker"])
    for key, value in (deviation or {}).items():
        if value is None:
            options.pop(key, None)
        else:
            options[key] = value
    return options


def docker_args(options: dict[str, Any], values: dict[str, str]) -> tuple[list[str], str]:
    """(`docker create` option args, image) with {placeholders} filled from ``values``."""
    args: list[str] = []
    for key, value in options.items():
        if key == "image":
            continue
        if value is True:
            args.append(key)
            continue
        for item in value if isinstance(value, list) else [value]:
            args += [key, str(item).format(**values)]
    return args, str(options["image"]).format(**values)


def docker_cases(cat: Catalog | None = None) -> list[tuple[str, str, dict[str, Any], set[str]]]:
    """(case id, rule, docker options, expected violated rule ids) for the baseline and every docker case."""
    cat = cat or catalog()
    cases: list[tuple[str, str, dict[str, Any], set[str]]] = [("baseline", "", docker_options(None, cat), set())]
    for rule in cat.rules:
        for case in rule.cases:
            if case.backend == "docker":
                cases.append((case.id, rule.id, docker_options(case.deviation, cat), case.expected))
    return cases
