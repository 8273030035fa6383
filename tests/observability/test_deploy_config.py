"""Install scripts (--dry-run), Helm values and OpenSearch/compose config of the monitoring,
logging and tracing stacks: what can be checked without a cluster (none is available here)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .support import MONITORING, ROOT, binary

SCRIPTS = MONITORING / "scripts"
VERSIONS = dict(
    line.split("=", 1)
    for line in (ROOT / "deploy" / "versions.env").read_text().splitlines()
    if re.match(r"^[A-Z_]+=", line)
)
SCHEMA = json.loads((MONITORING / "log-schema.json").read_text())


def _yaml(rel: str) -> dict:
    return yaml.safe_load((MONITORING / rel).read_text())


def test_scripts_are_shellcheck_clean() -> None:
    out = subprocess.run(
        [binary("shellcheck"), *map(str, sorted(SCRIPTS.glob("*.sh")))], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout


@pytest.mark.parametrize(
    "script,charts",
    [
        ("monitoring-up.sh", {"prometheus-community/kube-prometheus-stack": "KUBE_PROMETHEUS_STACK_VERSION"}),
        (
            "logging-up.sh",
            {"opensearch/opensearch": "OPENSEARCH_CHART_VERSION", "fluent/fluent-bit": "FLUENT_BIT_CHART_VERSION"},
        ),
        (
            "tracing-up.sh",
            {
                "jaegertracing/jaeger": "JAEGER_CHART_VERSION",
                "open-telemetry/opentelemetry-collector": "OTEL_COLLECTOR_CHART_VERSION",
            },
        ),
    ],
)
def test_dry_run_prints_every_command_with_pinned_versions(script: str, charts: dict[str, str]) -> None:
    # PATH without helm/kubectl: a dry run must not need (or call) them.
    out = subprocess.run(
        ["bash", str(SCRIPTS / script), "--dry-run", "--namespace", "obs-dry"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    commands = [line[2:] for line in out.stdout.splitlines() if line.startswith("+ ")]
    installs = [c for c in commands if c.startswith("helm upgrade --install")]
    assert len(installs) == len(charts)
    for chart, var in charts.items():
        assert any(f" {chart} --version {VERSIONS[var]} --namespace obs-dry " in c for c in installs), (chart, installs)
    assert all("--values " + str(MONITORING) in c for c in installs)


def test_scripts_reject_bad_arguments_with_one_line() -> None:
    for args in (["--bogus"], ["--namespace", "Not_Valid"]):
        out = subprocess.run(["bash", str(SCRIPTS / "monitoring-up.sh"), *args], capture_output=True, text=True)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_kube_prometheus_stack_values() -> None:
    values = _yaml("values-kube-prometheus-stack.yaml")
    grafana = values["grafana"]
    assert grafana["admin"]["existingSecret"] and "adminPassword" not in grafana
    sidecar = grafana["sidecar"]["dashboards"]
    assert (sidecar["enabled"], sidecar["label"], sidecar["labelValue"]) == (True, "grafana_dashboard", "1")
    spec = values["alertmanager"]["alertmanagerSpec"]
    expected_config = "alertmanager-inventory-config"  # pragma: allowlist secret
    assert spec["useExistingSecret"] and spec["configSecret"] == expected_config
    assert "alertmanager-inventory-receivers" in spec["secrets"]
    # The paths alertmanager.yml reads its secrets from are where the operator mounts this Secret.
    am = (MONITORING / "alertmanager" / "alertmanager.yml").read_text()
    assert am.count("/etc/alertmanager/secrets/alertmanager-inventory-receivers/") >= 3
    prom = values["prometheus"]["prometheusSpec"]
    assert prom["ruleSelectorNilUsesHelmValues"] is False and prom["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_dashboard_configmaps_are_labelled_for_the_sidecar() -> None:
    docs = list(yaml.safe_load_all((MONITORING / "dashboards" / "configmaps.yaml").read_text()))
    assert len(docs) == len(list((MONITORING / "dashboards").glob("*.json"))) == 4
    for doc in docs:
        assert doc["kind"] == "ConfigMap" and doc["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((name, body),) = doc["data"].items()
        assert json.loads(body)["uid"] == name.removesuffix(".json")


def test_index_template_maps_every_schema_field() -> None:
    template = json.loads((MONITORING / "logging" / "opensearch-index-template.json").read_text())
    mapped = template["template"]["mappings"]["properties"]
    assert set(SCHEMA["properties"]) <= set(mapped), set(SCHEMA["properties"]) - set(mapped)
    assert mapped["status"]["type"] in {"short", "integer"} and mapped["timestamp"]["type"] == "date"
    assert template["template"]["settings"]["plugins.index_state_management.policy_id"] == "inventory-logs-retention"


def test_ism_policy_deletes_old_indices() -> None:
    policy = json.loads((MONITORING / "logging" / "opensearch-ism-policy.json").read_text())["policy"]
    states = {s["name"]: s for s in policy["states"]}
    assert any("delete" in a for a in states["delete"]["actions"])
    assert policy["ism_template"][0]["index_patterns"] == ["inventory-logs-*"]


def test_fluent_bit_pipeline() -> None:
    config = _yaml("logging/values-fluent-bit.yaml")["config"]
    assert "Merge_Log On" in config["filters"] and "Name kubernetes" in config["filters"]
    assert "Name opensearch" in config["outputs"] and "Logstash_Prefix inventory-logs" in config["outputs"]
    assert "${OPENSEARCH_PASSWORD}" in config["outputs"]  # from a Secret via env, never inline


def test_otel_collector_forwards_otlp_to_jaeger() -> None:
    values = _yaml("tracing/values-opentelemetry-collector.yaml")
    traces = values["config"]["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"] and traces["exporters"] == ["otlp/jaeger"]
    jaeger = _yaml("tracing/values-jaeger.yaml")
    assert jaeger["collector"]["service"]["otlp"]["http"]["port"] == 4318


def test_compose_monitoring_profile_is_hardened() -> None:
    doc = yaml.safe_load((ROOT / "compose.monitoring.yaml").read_text())
    for name, service in doc["services"].items():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert not service["user"].startswith("0"), name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    dockerfiles = sorted((MONITORING / "images").glob("*/Dockerfile"))
    assert len(dockerfiles) == 3
    for dockerfile in dockerfiles:
        assert re.search(r"^USER 100\d\d:100\d\d$", dockerfile.read_text(), flags=re.M), dockerfile


@pytest.mark.parametrize("path", sorted((MONITORING / "dashboards").glob("*.json")), ids=lambda p: p.stem)
def test_dashboard_json_is_well_formed(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert doc["uid"] == path.stem and doc["title"] and doc["panels"]
    variables = {v["name"] for v in doc["templating"]["list"]}
    # Inventory gauges carry a source label (issue 12): the posture dashboard filters by it.
    expected = {"datasource", "namespace"} | ({"source"} if path.stem == "inventory-posture" else set())
    assert variables == expected
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for panel in doc["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)) and all(t["expr"].strip() for t in panel["targets"])
