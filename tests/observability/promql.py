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
            found.append((f"KEDA {values.relative_to(HELM.parent)}", query))
    for template in sorted(HELM.glob("*/templates/*.yaml")):
        lines = template.read_text().splitlines()
        for i, line in enumerate(lines):
            match = re.match(r"^(\s*)query:\s*(.*)$", line)
            if not match:
                continue
            query = match.group(2).strip()
            if query in ("|", "|-", ">", ">-"):  # block scalar: the more-indented lines below
                indent, block = len(match.group(1)), []
                for nxt in lines[i + 1 :]:
                    if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                        break
                    block.append(nxt.strip())
                query = " ".join(block)
            query = query.strip("'\"")
            if "{{" in query and ".Values" in query:
                continue  # rendered from values, collected above
            found.append((f"KEDA {template.relative_to(HELM.parent)}", query))
    return [(name, re.sub(r"\{\{[^}]*\}\}", namespace, q)) for name, q in found if q.strip()]


# Labels only Kubernetes service discovery attaches; the local Prometheus of the tests has none.
K8S_DISCOVERY_LABELS = ("job", "service", "pod", "container", "endpoint", "instance")


def without_discovery_matchers(expr: str) -> str:
    """Drop matchers on Kubernetes discovery labels so a cluster query runs on the local Prometheus
    (which labels both targets with a static ``namespace`` only)."""
    labels = "|".join(K8S_DISCOVERY_LABELS)
    out = re.sub(rf'\b({labels})\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*,?\s*', "", expr)
    return re.sub(r",\s*}", "}", out)


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
