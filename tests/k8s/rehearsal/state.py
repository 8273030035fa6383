"""The world the stand-ins share: one JSON file (clusters by kube context, minikube profiles, the local Docker
images, added chart repositories) plus an append-only log of every call. Locked per call: pipelines such as
`kubectl create ... -o yaml | kubectl apply -f -` run two stand-ins at once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

# Kubernetes 1.33 without add-ons: what `kubectl api-resources -o name` / `api-versions` list.
BASE_RESOURCES = [
    "namespaces",
    "pods",
    "services",
    "secrets",
    "configmaps",
    "serviceaccounts",
    "endpoints",
    "limitranges",
    "resourcequotas",
    "deployments.apps",
    "horizontalpodautoscalers.autoscaling",
    "networkpolicies.networking.k8s.io",
    "ingresses.networking.k8s.io",
    "poddisruptionbudgets.policy",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
    "validatingadmissionpolicies.admissionregistration.k8s.io",
    "validatingadmissionpolicybindings.admissionregistration.k8s.io",
]
BASE_APIS = [
    "v1",
    "apps/v1",
    "autoscaling/v2",
    "batch/v1",
    "networking.k8s.io/v1",
    "policy/v1",
    "rbac.authorization.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",
    "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding",
]
# What installing a platform chart adds to the cluster (its CRDs).
CHART_APIS = {
    "keda": (["keda.sh/v1alpha1", "keda.sh/v1alpha1/ScaledObject"], ["scaledobjects.keda.sh"]),
    "kube-prometheus-stack": (
        [
            "monitoring.coreos.com/v1",
            "monitoring.coreos.com/v1/ServiceMonitor",
            "monitoring.coreos.com/v1/PodMonitor",
            "monitoring.coreos.com/v1/PrometheusRule",
        ],
        [
            "servicemonitors.monitoring.coreos.com",
            "podmonitors.monitoring.coreos.com",
            "prometheusrules.monitoring.coreos.com",
        ],
    ),
    "kyverno": (["kyverno.io/v1", "kyverno.io/v1/ClusterPolicy"], ["clusterpolicies.kyverno.io"]),
}


def new_cluster(namespaces: list[str] | None = None, platform: bool = False) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "reachable": True,
        "namespaces": {ns: {} for ns in (namespaces or ["default", "kube-system", "kube-public", "kube-node-lease"])},
        "apis": list(BASE_APIS),
        "resources": list(BASE_RESOURCES),
        "endpoints": {"ips": ["10.0.0.10", "10.0.0.11"], "ports": [6443], "cluster_ip": "10.96.0.1"},
        "secrets": {},
        "objects": [],
        "releases": {},
        "pull_policy_never_images": [],  # minikube: images loaded into the node
        "registry": None,  # None: every image pulls; else the refs a registry holds
    }
    if platform:
        for chart in CHART_APIS:
            install_chart_apis(cluster, chart)
    return cluster


def install_chart_apis(cluster: dict[str, Any], chart: str) -> None:
    apis, resources = CHART_APIS.get(chart, ([], []))
    cluster["apis"] = sorted(set(cluster["apis"]) | set(apis))
    cluster["resources"] = sorted(set(cluster["resources"]) | set(resources))


def new_world() -> dict[str, Any]:
    return {"contexts": {}, "current_context": None, "repos": {}, "docker_images": [], "minikube": {}, "pushed": {}}


class Failed(Exception):
    """The stand-in answers like the real tool would on this error: message on stderr, exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    raise Failed(message, code)


@contextlib.contextmanager
def world() -> Iterator[dict[str, Any]]:
    """The shared state, locked for the duration of one call and written back afterwards."""
    path = Path(os.environ["REHEARSAL_STATE"])
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(path.read_text())
        try:
            yield state
        finally:
            path.write_text(json.dumps(state, indent=1, sort_keys=True))


def record(tool: str, argv: list[str], code: int, **extra: Any) -> None:
    log = Path(os.environ["REHEARSAL_LOG"])
    with open(log, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(json.dumps({"tool": tool, "argv": argv, "rc": code, **extra}) + "\n")


def take(args: list[str], *names: str, default: str | None = None) -> str | None:
    """Remove the first `--flag value` / `--flag=value` (any of names) from args; return its value."""
    for i, arg in enumerate(args):
        hit = next((n for n in names if arg == n or arg.startswith(n + "=")), None)
        if hit is None:
            continue
        if arg == hit:
            if i + 1 >= len(args):
                fail(f"error: flag needs an argument: {hit}")
            value = args[i + 1]
            del args[i : i + 2]
        else:
            value = arg.split("=", 1)[1]
            del args[i]
        return value
    return default


def take_all(args: list[str], *names: str) -> list[str]:
    values = []
    while True:
        value = take(args, *names)
        if value is None:
            return values
        values.append(value)


def flag(args: list[str], name: str) -> bool:
    if name in args:
        args.remove(name)
        return True
    return False


def main(tool: str, handler: Any) -> None:
    argv = sys.argv[1:]
    extra: dict[str, Any] = {}
    try:
        out = handler(list(argv), extra)
        code = 0
    except Failed as exc:
        print(str(exc), file=sys.stderr)
        out, code = None, exc.code
    record(tool, argv, code, **extra)
    if out:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    sys.exit(code)
