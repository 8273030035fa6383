"""Collect every PromQL expression we ship (alert rules, dashboards, the KEDA trigger) and name
the metrics each one reads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .support import MONITORING, ROOT, RULES

DASHBOARDS = MONITORING / "dashboards"
HELM = ROOT / "deploy" / "helm"
# Grafana variables -> values a plain Prometheus accepts.
GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$namespace": ".*",
    "${namespace}": ".*",
}
_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


def rule_expressions() -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule.get('alert') or rule.get('record')}", rule["expr"]


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    for path in sorted(DASHBOARDS.glob("*.json")):
        doc = json.loads(path.read_text())
        for panel in doc["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for var, value in GRAFANA_VARS.items():
                    expr = expr.replace(var, value)
                yield f"{path.stem}: {panel['title']} [{target['refId']}]", expr


def _walk_queries(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "query" and isinstance(value, str):
                yield value
            else:
                yield from _walk_queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_queries(item)


def keda_expressions(namespace: str = "inventory-test") -> list[tuple[str, str]]:
    """The KEDA prometheus trigger query from the chart's values (or a literal one in a template).
    Helm placeholders are replaced so the query is plain PromQL for ``namespace``."""
    found: list[tuple[str, str]] = []
    for values in sorted(HELM.glob("*/values*.yaml")):
        for query in _walk_queries(yaml.safe_load(values.read_text()) or {}):
            found.append((f"KEDA {values.relative_to(ROOT)}", query))
    for template in sorted(HELM.glob("*/templates/*.yaml")):
        for match in re.finditer(r"^\s*query:\s*(?:[|>]-?\s*\n)?(.+)$", template.read_text(), flags=re.M):
            query = match.group(1).strip().strip("'\"")
            if "{{" in query and ".Values" in query:
                continue  # rendered from values, collected above
            found.append((f"KEDA {template.relative_to(ROOT)}", query))
    return [(name, re.sub(r"\{\{[^}]*\}\}", namespace, q)) for name, q in found if q.strip()]


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (tokenizer good enough for our own expressions)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # range / subquery selectors
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names: set[str] = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        token = match.group(0)
        if s[match.end() :].lstrip().startswith("(") or token.lower() in _KEYWORDS:
            continue  # a function call or an operator keyword
        names.add(token)
    return names


def all_expressions() -> list[tuple[str, str]]:
    return [*rule_expressions(), *dashboard_expressions(), *keda_expressions()]


def load_file(path: Path) -> str:
    return path.read_text()
