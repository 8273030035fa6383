"""Quota and node capacity at full scale-out (maxReplicas + surge, every injected sidecar counted), per environment,
and the minikube profile against everything the platform and the chart request."""

from __future__ import annotations

import re

import pytest
import yaml

from .capacity import limit_range_violations, namespace_demand, quantity, quota_shortfalls
from .conftest import CHART, ENVS, ROOT, render

# CPU (cores) and memory (MiB) requested on a minikube node besides our chart, by what minikube-up.sh/deploy.sh
# install. Sources: kubeadm static pod manifests (etcd 100m/100Mi, apiserver 250m, controller-manager 200m,
# scheduler 100m), CoreDNS 100m/70Mi, calico-node 250m, the ingress addon's controller 100m/90Mi, the
# metrics-server addon 100m/200Mi, the KEDA chart's defaults (operator and metrics server 100m/100Mi each,
# webhooks 10m/10Mi), our kube-prometheus-stack values (read below) and the Kyverno chart's defaults (admission
# 100m/128Mi, background/cleanup/reports 100m/64Mi each).
PLATFORM = {
    "control plane": (0.65, 100),
    "coredns": (0.1, 70),
    "calico": (0.25, 0),
    "ingress-nginx": (0.1, 90),
    "metrics-server": (0.1, 200),
    "keda": (0.21, 210),
    "kyverno": (0.4, 320),
}
HEADROOM = 0.9  # leave 10 % of the node for bursts, image pulls and the kubelet itself


def _kube_prometheus_stack_requests() -> tuple[float, float]:
    """Requests our kube-prometheus-stack values set (Prometheus, Alertmanager x replicas, Grafana, operator)."""
    values = yaml.safe_load((ROOT / "deploy" / "monitoring" / "values-kube-prometheus-stack.yaml").read_text())
    parts = [
        (values["prometheus"]["prometheusSpec"]["resources"], 1),
        (
            values["alertmanager"]["alertmanagerSpec"]["resources"],
            values["alertmanager"]["alertmanagerSpec"]["replicas"],
        ),
        (values["grafana"]["resources"], 1),
        (values["prometheusOperator"]["resources"], 1),
    ]
    cpu = sum(quantity(r["requests"]["cpu"]) * n for r, n in parts)
    mem = sum(quantity(r["requests"]["memory"]) * n for r, n in parts) / 2**20
    return cpu, mem


def minikube_profile(values_text: str) -> tuple[float, float]:
    """(cpus, memory MiB) the profile gets: values-minikube.yaml minikube.*, as minikube-up.sh reads them."""
    profile = yaml.safe_load(values_text)["minikube"]
    memory = re.fullmatch(r"(\d+)([mg])", str(profile["memory"]))
    assert memory, profile["memory"]
    return float(profile["cpus"]), int(memory.group(1)) * (1024 if memory.group(2) == "g" else 1)


def node_shortfalls(cpus: float, memory_mib: float, docs: list[dict]) -> list[str]:
    kps_cpu, kps_mem = _kube_prometheus_stack_requests()
    chart = namespace_demand(docs)
    cpu = sum(c for c, _ in PLATFORM.values()) + kps_cpu + chart["requests.cpu"]
    mem = sum(m for _, m in PLATFORM.values()) + kps_mem + chart["requests.memory"] / 2**20
    problems = []
    if cpu > cpus * HEADROOM:
        problems.append(f"CPU requests {cpu:.2f} > {HEADROOM:.0%} of {cpus:g} cpus")
    if mem > memory_mib * HEADROOM:
        problems.append(f"memory requests {mem:.0f}Mi > {HEADROOM:.0%} of {memory_mib:g}Mi")
    return problems


@pytest.mark.parametrize("env", ENVS)
def test_quota_covers_max_scale_out_with_every_sidecar(env):
    docs = render(env)
    assert quota_shortfalls(docs) == []
    assert limit_range_violations(docs) == []


def test_prod_demand_counts_the_vault_agent_sidecar_and_init_container():
    with_vault = namespace_demand(render("prod"))
    without = namespace_demand(render("prod", "auth.mode=secret"))
    api_pods = 12 + 1  # maxReplicas + surge
    assert with_vault["limits.cpu"] - without["limits.cpu"] == pytest.approx(api_pods * 0.25)


@pytest.mark.parametrize(
    "setting",
    [
        "resourceQuota.hard.limits\\.cpu=24",  # the prod quota: fits only without the sidecar
        "auth.vault.agentResources.limits.cpu=1500m",
        "api.autoscaling.maxReplicas=40",
    ],
)
def test_quota_check_fails_on_a_quota_that_ignores_scale_out_or_the_sidecar(setting):
    assert quota_shortfalls(render("prod", setting))


def test_limit_range_check_fails_on_a_sidecar_above_the_max():
    assert limit_range_violations(render("prod", "auth.vault.agentResources.limits.memory=2Gi"))


def test_minikube_profile_fits_platform_and_chart():
    cpus, memory = minikube_profile((CHART / "values-minikube.yaml").read_text())
    assert node_shortfalls(cpus, memory, render("minikube")) == []
    # minikube-up.sh starts the profile with exactly these numbers
    out = (ROOT / "deploy" / "scripts" / "minikube-up.sh").read_text()
    assert "values-minikube.yaml" in out and '--cpus "$MINIKUBE_CPUS" --memory "$MINIKUBE_MEMORY"' in out


@pytest.mark.parametrize("profile", ["cpus: 2\n  memory: 8g", "cpus: 4\n  memory: 2g"])
def test_minikube_check_fails_on_the_old_two_cpu_profile_or_too_little_memory(profile):
    text = re.sub(r"cpus: \d+\n  memory: \w+", profile, (CHART / "values-minikube.yaml").read_text())
    assert node_shortfalls(*minikube_profile(text), render("minikube"))
