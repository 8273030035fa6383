"""THE kube-prometheus-stack release (`kps`, deploy/scripts/lib.sh) selects every ServiceMonitor / PodMonitor /
PrometheusRule we ship: the chart's (release label from monitoring.prometheusRelease) and Velero's
(deploy/velero/values.yaml). Selection is checked with our kps values AND with the chart's default selectors
(label release=<release name>), so labels that only work because our values select everything fail. The rehearsal
(test_rehearsal.py) checks the same on what `make deploy` / `make monitoring-up` actually install."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ENVS, NAMESPACE, ROOT, by_kind, render, run, template_cmd
from .selection import kps_release, matches, merged_values, selector, unselected

KPS_VALUES = ROOT / "deploy" / "monitoring" / "values-kube-prometheus-stack.yaml"
KPS_MINIKUBE = ROOT / "deploy" / "monitoring" / "values-kube-prometheus-stack-minikube.yaml"
VELERO_VALUES = ROOT / "deploy" / "velero" / "values.yaml"
MONITOR_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")


def velero_monitors(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The ServiceMonitor / PrometheusRule the Velero chart renders from metrics.*.additionalLabels."""
    metrics = values["metrics"]
    out = []
    for key, kind in (("serviceMonitor", "ServiceMonitor"), ("prometheusRule", "PrometheusRule")):
        if metrics.get("enabled") and metrics[key].get("enabled"):
            labels = metrics[key].get("additionalLabels") or {}
            out.append({"kind": kind, "metadata": {"name": "velero", "namespace": "velero", "labels": labels}})
    return out


@pytest.mark.parametrize("kps_files", [[KPS_VALUES], [KPS_VALUES, KPS_MINIKUBE]], ids=["kps", "kps-minikube"])
@pytest.mark.parametrize("env", ENVS)
def test_kps_selects_the_charts_monitors_and_rules(env, kps_files):
    docs = render(env, "monitoring.podMonitor.enabled=true")
    monitors = [d for kind in MONITOR_KINDS for d in by_kind(docs, kind)]
    assert {d["kind"] for d in monitors} == set(MONITOR_KINDS)
    release = kps_release(ROOT)
    assert not unselected(monitors, merged_values(kps_files), release)
    for doc in monitors:
        assert doc["metadata"]["labels"]["release"] == release


def test_kps_selects_velero_monitors_and_rules():
    monitors = velero_monitors(yaml.safe_load(VELERO_VALUES.read_text()))
    assert [m["kind"] for m in monitors] == ["ServiceMonitor", "PrometheusRule"]
    assert not unselected(monitors, merged_values([KPS_VALUES]), kps_release(ROOT))


@pytest.mark.parametrize(
    "sets, files",
    [
        (("monitoring.prometheusRelease=kube-prometheus-stack",), [KPS_VALUES]),
        ((), "kps-selects-team"),
    ],
    ids=["chart-label-diverges", "kps-selector-diverges"],
)
def test_divergence_is_caught(tmp_path, sets, files):
    if files == "kps-selects-team":
        other = tmp_path / "kps.yaml"
        other.write_text(
            yaml.safe_dump(
                {"prometheus": {"prometheusSpec": {"serviceMonitorSelector": {"matchLabels": {"team": "x"}}}}}
            )
        )
        files = [KPS_VALUES, other]
    docs = render("dev", *sets)
    monitors = [d for kind in MONITOR_KINDS for d in by_kind(docs, kind)]
    assert unselected(monitors, merged_values(files), kps_release(ROOT))


def test_velero_divergence_is_caught():
    values = yaml.safe_load(VELERO_VALUES.read_text())
    values["metrics"]["prometheusRule"]["additionalLabels"] = {"release": "kube-prometheus-stack"}
    (problem,) = unselected(velero_monitors(values), merged_values([KPS_VALUES]), kps_release(ROOT))
    assert problem.startswith("PrometheusRule velero/velero") and "NilUsesHelmValues=True" in problem


def test_selector_model_follows_the_kube_prometheus_stack_template():
    assert selector({}, "kps", "ServiceMonitor") == {"matchLabels": {"release": "kps"}}
    nil_all = {"prometheus": {"prometheusSpec": {"ruleSelectorNilUsesHelmValues": False}}}
    assert selector(nil_all, "kps", "PrometheusRule") == {}
    assert selector(nil_all, "kps", "PrometheusRule", nil_uses_helm_values=True) == {"matchLabels": {"release": "kps"}}
    explicit = {"prometheus": {"prometheusSpec": {"podMonitorSelector": {"matchLabels": {"a": "b"}}}}}
    assert selector(explicit, "kps", "PodMonitor") == {"matchLabels": {"a": "b"}}
    exprs = {
        "matchExpressions": [
            {"key": "release", "operator": "In", "values": ["kps"]},
            {"key": "x", "operator": "DoesNotExist"},
        ]
    }
    assert matches(exprs, {"release": "kps"}) and not matches(exprs, {"release": "kps", "x": "1"})
    assert not matches({"matchExpressions": [{"key": "release", "operator": "Exists"}]}, {})
    assert matches({}, {}) and matches(None, {"a": "b"})


def test_release_label_cannot_be_set_twice():
    cmd = template_cmd("dev", "monitoring.serviceMonitor.labels.release=other")
    proc = run(cmd, check=False)
    assert proc.returncode != 0
    assert "monitoring.*.labels must not set `release`: set monitoring.prometheusRelease" in proc.stderr


def test_extra_labels_are_kept_next_to_the_release_label():
    (sm,) = by_kind(render("dev", "monitoring.serviceMonitor.labels.team=platform"), "ServiceMonitor")
    assert sm["metadata"]["labels"]["team"] == "platform" and sm["metadata"]["labels"]["release"] == "kps"
    assert sm["metadata"]["namespace"] == NAMESPACE


def test_kps_release_is_read_from_the_one_shell_library(tmp_path: Path):
    (tmp_path / "deploy" / "scripts").mkdir(parents=True)
    (tmp_path / "deploy" / "scripts" / "lib.sh").write_text("X=1\nKPS_RELEASE=other\n")
    assert kps_release(tmp_path) == "other" and kps_release(ROOT) == "kps"
