"""(3) Every PromQL expression we ship parses on a real Prometheus, and every metric it names is
exported by the real running stack (flask-api /metrics and the nginx exporter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from . import promql
from .conftest import ObsStack
from .promql import DASHBOARDS, all_expressions, keda_expressions, metric_names, without_discovery_matchers
from .support import Prometheus, http_get, wait_until

# Read by our alerts/dashboards but produced outside this repository's stack, so they cannot be
# scraped here: kube-state-metrics (kube_*), cAdvisor via the kubelet (container_*), and the
# `up` series Prometheus writes for every target.
CLUSTER_METRICS_PREFIXES = ("kube_", "container_")
PROMETHEUS_SYNTHETIC = {"up"}


def test_metric_name_extraction() -> None:
    expr = (
        'sum by (le, route) (rate(a_bucket{route!~"/m|x",le="0.5"}[5m])) / ignoring(x) '
        'histogram_quantile(0.9, b_total offset 5m) and on(namespace) label_replace(c, "d", "$1", "e", "(.*)") > 0.5'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_keda_query_extraction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "values.yaml").write_text(
        'keda:\n  prometheus:\n    query: sum(rate(a_total{namespace="{{ .Release.Namespace }}"}[1m]))\n'
    )
    (chart / "templates" / "so.yaml").write_text(
        'triggers:\n  - type: prometheus\n    metadata:\n      query: |\n        sum(rate(b_total{pod=~"x.*"}[2m]))\n'
        "        / 2\n      threshold: '5'\n  - metadata:\n      query: {{ .Values.keda.prometheus.query | quote }}\n"
    )
    monkeypatch.setattr(promql, "HELM", tmp_path)
    found = [q for _, q in promql.keda_expressions("ns1")]
    assert found == ['sum(rate(a_total{namespace="ns1"}[1m]))', 'sum(rate(b_total{pod=~"x.*"}[2m])) / 2']
    assert without_discovery_matchers(found[1]) == "sum(rate(b_total{}[2m])) / 2"


def test_dashboards_are_generated_from_code() -> None:
    out = subprocess.run([sys.executable, str(DASHBOARDS / "generate.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_keda_trigger_query_is_found() -> None:
    if not keda_expressions():
        pytest.fail("no KEDA trigger `query:` in deploy/helm/*/values*.yaml or templates")


@pytest.mark.parametrize("name,expr", all_expressions(), ids=[n for n, _ in all_expressions()])
def test_expression_parses_on_real_prometheus(bare_prometheus: Prometheus, name: str, expr: str) -> None:
    bare_prometheus.query(expr)  # raises with Prometheus' parse error


def test_real_prometheus_rejects_a_broken_expression(bare_prometheus: Prometheus) -> None:
    with pytest.raises(ValueError, match="bad_data"):
        bare_prometheus.query("sum(rate(inventory_http_requests_total[5m])")


def _exported(url: str) -> set[str]:
    status, body = http_get(url + "/metrics")
    assert status == 200
    return {s.name for fam in text_string_to_metric_families(body.decode()) for s in fam.samples}


def test_every_metric_named_is_exported_by_the_running_stack(obs_stack: ObsStack) -> None:
    # The backend must be up (inventory gauges are only exported then), whatever ran before.
    proxy = obs_stack.stack.container("socket-proxy")
    proxy.reload()
    if proxy.status != "running":
        proxy.start()
    wait_until(lambda: obs_stack.stack.get("/readyz").status_code == 200, 60, "the API to be ready")
    # Exercise every code path that creates series: list, inspect, posture, cache, 404s.
    for path in ("/api/containers", "/api/containers?all=true", "/api/posture", "/api/containers/does-not-exist"):
        obs_stack.stack.get(path, headers=obs_stack.auth())
    exported = _exported(obs_stack.api_url) | _exported(obs_stack.exporter_url)
    needed: dict[str, set[str]] = {}
    for name, expr in all_expressions():
        for metric in metric_names(expr):
            if metric.startswith(CLUSTER_METRICS_PREFIXES) or metric in PROMETHEUS_SYNTHETIC:
                continue
            needed.setdefault(metric, set()).add(name)
    missing = {m: sorted(where) for m, where in needed.items() if m not in exported}
    assert not missing, f"metrics named in our PromQL but not exported by the running stack: {missing}"
    assert {"inventory_http_requests_total", "nginx_http_requests_total", "inventory_posture_findings"} <= set(needed)
