"""Which ServiceMonitors / PodMonitors / PrometheusRules THE kube-prometheus-stack release's Prometheus selects.

A model of the kube-prometheus-stack chart's Prometheus template: for each kind, `prometheusSpec.<x>Selector` when
set; else, when `<x>SelectorNilUsesHelmValues` is true (the chart default), `matchLabels: {release: <release>}`;
else `{}` (every object). Namespace selectors: unset or `{}` means every namespace. Label selectors as Kubernetes
evaluates them (matchLabels AND matchExpressions In/NotIn/Exists/DoesNotExist)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

# kind -> the prometheusSpec key prefix of its selectors.
SELECTOR_KEYS = {"ServiceMonitor": "serviceMonitor", "PodMonitor": "podMonitor", "PrometheusRule": "rule"}
NAMESPACE_SELECTOR_KEYS = {
    "ServiceMonitor": "serviceMonitorNamespaceSelector",
    "PodMonitor": "podMonitorNamespaceSelector",
    "PrometheusRule": "ruleNamespaceSelector",
}


def kps_release(root: Path) -> str:
    """KPS_RELEASE of deploy/scripts/lib.sh: the name monitoring-up.sh installs kube-prometheus-stack as."""
    found = re.findall(r"^KPS_RELEASE=(\S+)$", (root / "deploy" / "scripts" / "lib.sh").read_text(), re.M)
    assert len(found) == 1, f"one KPS_RELEASE= line in deploy/scripts/lib.sh, got {found}"
    return found[0]


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """helm's merge of values files: maps merge key by key, everything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merged_values(files: list[str | Path]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in files:
        values = merge(values, yaml.safe_load(Path(path).read_text()) or {})
    return values


def selector(values: dict[str, Any], release: str, kind: str, nil_uses_helm_values: bool | None = None) -> dict:
    """The label selector the release's Prometheus gets for `kind` (nil_uses_helm_values overrides the values)."""
    spec = (values.get("prometheus") or {}).get("prometheusSpec") or {}
    key = SELECTOR_KEYS[kind]
    if spec.get(f"{key}Selector"):
        return dict(spec[f"{key}Selector"])
    nil_uses = (
        spec.get(f"{key}SelectorNilUsesHelmValues", True) if nil_uses_helm_values is None else nil_uses_helm_values
    )
    return {"matchLabels": {"release": release}} if nil_uses else {}


def matches(sel: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics; an empty selector matches everything."""
    sel = sel or {}
    if any(labels.get(k) != str(v) for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], [str(v) for v in expr.get("values") or []]
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def unselected(objects: list[dict[str, Any]], values: dict[str, Any], release: str) -> list[str]:
    """Objects the release's Prometheus would NOT pick up, each with the reason. Checked twice: with the values as
    they are, and with the chart's default (NilUsesHelmValues true, i.e. label release=<release>), so an object
    that is found only because our values select everything still fails."""
    spec = (values.get("prometheus") or {}).get("prometheusSpec") or {}
    problems = []
    for obj in objects:
        kind, meta = obj["kind"], obj["metadata"]
        labels = {k: str(v) for k, v in (meta.get("labels") or {}).items()}
        name = f"{kind} {meta.get('namespace', '')}/{meta['name']} labels {labels}"
        for nil_uses in (None, True):
            sel = selector(values, release, kind, nil_uses)
            if not matches(sel, labels):
                problems.append(f"{name} not selected by {sel} (release {release}, NilUsesHelmValues={nil_uses})")
        ns_sel = spec.get(NAMESPACE_SELECTOR_KEYS[kind])
        if ns_sel and not matches(ns_sel, {"kubernetes.io/metadata.name": meta.get("namespace", "")}):
            problems.append(f"{name}: namespace not selected by {ns_sel}")
    return problems
