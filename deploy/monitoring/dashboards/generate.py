#!/usr/bin/env python3
"""Grafana dashboards as code: writes the dashboard JSON files and the ConfigMaps that the
kube-prometheus-stack Grafana sidecar loads (label grafana_dashboard: "1").

    python3 deploy/monitoring/dashboards/generate.py            # (re)write *.json and configmaps.yaml
    python3 deploy/monitoring/dashboards/generate.py --check    # fail if the committed files are stale

Every PromQL expression here is checked against a real Prometheus and the real exporters by
tests/observability/test_promql.py. `$namespace` matches every series when "All" is selected
(".*" also matches series without a namespace label, as in the local compose Prometheus).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONFIGMAPS = HERE / "configmaps.yaml"
NS = 'namespace=~"$namespace"'
# Inventory gauges carry the source (engine or cluster) they describe: issue 12, inventory.fleet.
SRC = 'source=~"$source"'
USER = 'route!~"/metrics|/healthz|/readyz"'
RATE = "[$__rate_interval]"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _panel(
    title: str,
    exprs: list[tuple[str, str]],
    unit: str = "short",
    kind: str = "timeseries",
    width: int = 12,
    description: str = "",
) -> dict[str, Any]:
    targets = [
        {"datasource": DATASOURCE, "expr": e, "legendFormat": legend, "refId": chr(65 + i)}
        for i, (e, legend) in enumerate(exprs)
    ]
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "gridPos": {"w": width, "h": 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }


def _variable(name: str, label: str, metric: str, ref: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": DATASOURCE,
        "label": label,
        "query": {"query": f"label_values({metric}, {name})", "refId": ref},
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "refresh": 2,
        "current": {"text": "All", "value": "$__all"},
    }


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    x = y = 0
    for pid, panel in enumerate(panels, start=1):
        w = panel["gridPos"]["w"]
        if x + w > 24:
            x, y = 0, y + 8
        panel["id"] = pid
        panel["gridPos"].update({"x": x, "y": y})
        x += w
    return {
        "uid": uid,
        "title": title,
        "tags": ["container-inventory"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
                _variable("namespace", "Namespace", "inventory_build_info", "ns"),
                *variables,
            ]
        },
        "panels": panels,
    }


def red() -> dict[str, Any]:
    total = f"sum(rate(inventory_http_requests_total{{{NS},{USER}}}{RATE}))"
    return _dashboard(
        "inventory-red",
        "Inventory API / RED",
        [
            _panel(
                "Requests per second by route",
                [
                    (
                        f"sum by (route, method) (rate(inventory_http_requests_total{{{NS},{USER}}}{RATE}))",
                        "{{method}} {{route}}",
                    )
                ],
                "reqps",
            ),
            _panel(
                "Responses by status",
                [(f"sum by (status) (rate(inventory_http_requests_total{{{NS},{USER}}}{RATE}))", "{{status}}")],
                "reqps",
            ),
            _panel(
                "5xx error ratio (alert: > 5%)",
                [
                    (
                        f'sum(rate(inventory_http_requests_total{{{NS},{USER},status=~"5.."}}{RATE})) / {total}',
                        "5xx ratio",
                    )
                ],
                "percentunit",
            ),
            _panel(
                "Latency quantiles",
                [
                    (
                        f"histogram_quantile({q}, sum by (le) "
                        f"(rate(inventory_http_request_duration_seconds_bucket{{{NS},{USER}}}{RATE})))",
                        f"p{int(q * 100)}",
                    )
                    for q in (0.5, 0.95, 0.99)
                ],
                "s",
            ),
            _panel(
                "Latency SLO: requests faster than 500 ms (objective 99%)",
                [
                    (
                        f'sum(rate(inventory_http_request_duration_seconds_bucket{{{NS},{USER},le="0.5"}}{RATE})) / '
                        f"sum(rate(inventory_http_request_duration_seconds_count{{{NS},{USER}}}{RATE}))",
                        "within SLO",
                    )
                ],
                "percentunit",
            ),
            _panel(
                "p95 latency by route",
                [
                    (
                        f"histogram_quantile(0.95, sum by (le, route) "
                        f"(rate(inventory_http_request_duration_seconds_bucket{{{NS},{USER}}}{RATE})))",
                        "{{route}}",
                    )
                ],
                "s",
            ),
            _panel(
                "Nginx requests per second (all, incl. rejected)",
                [(f"sum(rate(nginx_http_requests_total{{{NS}}}{RATE}))", "nginx"), (total, "reached the API")],
                "reqps",
            ),
            _panel(
                "Backend calls by outcome",
                [
                    (
                        f"sum by (operation, outcome) (rate(inventory_backend_requests_total{{{NS}}}{RATE}))",
                        "{{operation}} {{outcome}}",
                    )
                ],
                "ops",
            ),
        ],
    )


def saturation() -> dict[str, Any]:
    pod = f'{NS},container="flask-api"'
    return _dashboard(
        "inventory-saturation",
        "Inventory API / Saturation",
        [
            _panel(
                "Requests in flight",
                [(f"sum by (instance) (inventory_http_requests_in_flight{{{NS}}})", "{{instance}}")],
            ),
            _panel(
                "Nginx connections",
                [
                    (f"sum by (instance) (nginx_connections_active{{{NS}}})", "active {{instance}}"),
                    (f"sum by (instance) (nginx_connections_waiting{{{NS}}})", "waiting {{instance}}"),
                ],
            ),
            _panel(
                "API CPU (cores) vs request",
                [
                    (f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{pod}}}{RATE}))", "{{pod}}"),
                    (f'sum by (pod) (kube_pod_container_resource_requests{{{pod},resource="cpu"}})', "request {{pod}}"),
                ],
                description="cAdvisor and kube-state-metrics (cluster only)",
            ),
            _panel(
                "API memory working set vs limit",
                [
                    (f"sum by (pod) (container_memory_working_set_bytes{{{pod}}})", "{{pod}}"),
                    (f'sum by (pod) (kube_pod_container_resource_limits{{{pod},resource="memory"}})', "limit {{pod}}"),
                ],
                "bytes",
                description="cAdvisor and kube-state-metrics (cluster only)",
            ),
            _panel(
                "Backend latency p95 by operation",
                [
                    (
                        f"histogram_quantile(0.95, sum by (le, operation) "
                        f"(rate(inventory_backend_request_duration_seconds_bucket{{{NS}}}{RATE})))",
                        "{{operation}}",
                    )
                ],
                "s",
            ),
            _panel(
                "Cache hit ratio",
                [
                    (
                        f'sum by (cache) (rate(inventory_cache_requests_total{{{NS},result=~"hit|shared"}}{RATE})) / '
                        f"sum by (cache) (rate(inventory_cache_requests_total{{{NS}}}{RATE}))",
                        "{{cache}}",
                    )
                ],
                "percentunit",
            ),
        ],
    )


def autoscaling() -> dict[str, Any]:
    hpa = f'{NS},horizontalpodautoscaler=~"keda-hpa-.*"'
    return _dashboard(
        "inventory-autoscaling",
        "Inventory API / Autoscaling",
        [
            _panel(
                "Replicas: current, desired, max",
                [
                    (
                        f"sum by (horizontalpodautoscaler) "
                        f"(kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}})",
                        "current",
                    ),
                    (
                        f"sum by (horizontalpodautoscaler) "
                        f"(kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}})",
                        "desired",
                    ),
                    (
                        f"sum by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}})",
                        "max",
                    ),
                ],
                width=24,
            ),
            _panel(
                "Load: API requests per second (the KEDA trigger metric)",
                [(f"sum(rate(inventory_http_requests_total{{{NS},{USER}}}[1m]))", "req/s")],
                "reqps",
            ),
            _panel(
                "Load per replica",
                [
                    (
                        f"sum(rate(inventory_http_requests_total{{{NS},{USER}}}[1m])) / "
                        f"count(inventory_build_info{{{NS}}})",
                        "req/s per pod",
                    )
                ],
                "reqps",
            ),
            _panel(
                "Requests in flight per replica", [(f"avg(inventory_http_requests_in_flight{{{NS}}})", "avg in flight")]
            ),
            _panel("Scrape targets up", [(f"sum by (job) (up{{{NS}}})", "{{job}}")]),
        ],
    )


def posture() -> dict[str, Any]:
    # Several API replicas report the same sources: max by source first (dedupe), then sum over sources.
    sel = f"{NS},{SRC}"
    findings = f"inventory_posture_findings{{{sel}}}"
    high = f'inventory_posture_findings{{{sel},severity=~"HIGH|CRITICAL"}}'
    return _dashboard(
        "inventory-posture",
        "Inventory / Containers and posture",
        [
            _panel(
                "Sources available",
                [(f"max by (source, type) (inventory_source_up{{{sel}}})", "{{source}} ({{type}})")],
                kind="stat",
                width=6,
                description="1 = at least one API replica reaches the source (alert: InventorySourceUnavailable)",
            ),
            _panel(
                "Running containers",
                [(f'sum(max by (source) (inventory_containers{{{sel},state="running"}}))', "running")],
                kind="stat",
                width=6,
            ),
            _panel(
                "HIGH / CRITICAL findings",
                [
                    (
                        f"sum(max by (source, rule) ({high}))",
                        "findings",
                    )
                ],
                kind="stat",
                width=6,
            ),
            _panel(
                "Build",
                [
                    (
                        f"count by (version, revision, backend) (inventory_build_info{{{NS}}})",
                        "{{version}} {{revision}} ({{backend}})",
                    )
                ],
                kind="stat",
                width=6,
            ),
            _panel(
                "Running containers by source",
                [(f'max by (source) (inventory_containers{{{sel},state="running"}})', "{{source}}")],
            ),
            _panel(
                "Containers by state",
                [(f"sum by (state) (max by (source, state) (inventory_containers{{{sel}}}))", "{{state}}")],
            ),
            _panel(
                "Posture findings by rule and severity",
                [
                    (
                        f"sum by (rule, severity) (max by (source, rule, severity) ({findings}))",
                        "{{severity}} {{rule}}",
                    )
                ],
            ),
            _panel(
                "HIGH / CRITICAL findings by source",
                [
                    (
                        f"sum by (source) (max by (source, rule) ({high}))",
                        "{{source}}",
                    )
                ],
            ),
            _panel(
                "Findings by severity",
                [
                    (
                        f"sum by (severity) (max by (source, rule, severity) ({findings}))",
                        "{{severity}}",
                    )
                ],
                kind="bargauge",
                width=24,
            ),
        ],
        variables=(_variable("source", "Source", "inventory_source_up", "src"),),
    )


DASHBOARDS = {
    "inventory-red": red,
    "inventory-saturation": saturation,
    "inventory-autoscaling": autoscaling,
    "inventory-posture": posture,
}


def render_json(build: Any) -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def render_configmaps() -> str:
    # One document per dashboard; no namespace, so `kubectl apply -n <ns> -f` puts them anywhere
    # (the sidecar watches the label in every namespace).
    docs = []
    for name in DASHBOARDS:
        body = (HERE / f"{name}.json").read_text()
        indented = "".join(f"    {line}\n" for line in body.splitlines())
        docs.append(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: grafana-dashboard-{name}\n"
            '  labels:\n    grafana_dashboard: "1"\n    app.kubernetes.io/part-of: container-inventory\n'
            "  annotations:\n    grafana_folder: Container Inventory\n"
            f"data:\n  {name}.json: |\n{indented}"
        )
    header = "# Generated by deploy/monitoring/dashboards/generate.py; do not edit by hand.\n"
    return header + "# yamllint disable rule:line-length\n---\n" + "---\n".join(docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the generated files are out of date")
    args = parser.parse_args(argv)
    wanted = {HERE / f"{name}.json": render_json(build) for name, build in DASHBOARDS.items()}
    if not args.check:
        for path, text in wanted.items():
            path.write_text(text)
    wanted[CONFIGMAPS] = render_configmaps()
    stale = [p.name for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if args.check:
        if stale:
            print(f"generate.py: stale generated files: {', '.join(stale)} (run generate.py)", file=sys.stderr)
            return 1
        print("generate.py: dashboards and ConfigMaps are up to date")
        return 0
    CONFIGMAPS.write_text(wanted[CONFIGMAPS])
    print(f"generate.py: wrote {len(DASHBOARDS)} dashboards and {CONFIGMAPS.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
