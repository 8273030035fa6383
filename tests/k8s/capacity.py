"""What the rendered chart asks of a namespace and a node at full scale-out, as the API server counts it.

A pod's requests/limits are max(sum of its containers, largest init container) per resource (the quota and the
scheduler count it so). Containers the Vault Agent injector adds in Vault mode (vault-agent-init, vault-agent)
are counted from the pod's annotations, with the injector's defaults where an annotation is absent.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .conftest import by_kind, pod_spec

# Vault Agent injector defaults (agent-inject: requests 250m/64Mi, limits 500m/128Mi).
VAULT_DEFAULTS = {"requests-cpu": "250m", "requests-mem": "64Mi", "limits-cpu": "500m", "limits-mem": "128Mi"}
UNITS = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: str | int | float) -> float:
    text = str(value)
    for suffix in sorted(UNITS, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * UNITS[suffix]
    return float(text)


def _resources(container: dict[str, Any]) -> Counter[str]:
    out: Counter[str] = Counter()
    for kind in ("requests", "limits"):
        for res, value in (container.get("resources", {}).get(kind) or {}).items():
            out[f"{kind}.{res}"] += quantity(value)
    return out


def injected(annotations: dict[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(init containers, sidecars) the Vault Agent injector adds to a pod with these annotations."""
    if annotations.get("vault.hashicorp.com/agent-inject") != "true":
        return [], []

    def ann(key: str) -> str:
        return annotations.get(f"vault.hashicorp.com/agent-{key}", VAULT_DEFAULTS[key])

    agent = {
        "resources": {
            "requests": {"cpu": ann("requests-cpu"), "memory": ann("requests-mem")},
            "limits": {"cpu": ann("limits-cpu"), "memory": ann("limits-mem")},
        }
    }
    pre_populate = annotations.get("vault.hashicorp.com/agent-pre-populate", "true") == "true"
    only_init = annotations.get("vault.hashicorp.com/agent-pre-populate-only") == "true"
    return ([{"name": "vault-agent-init", **agent}] if pre_populate else []), (
        [] if only_init else [{"name": "vault-agent", **agent}]
    )


def pod_footprint(template_meta: dict[str, Any], spec: dict[str, Any]) -> Counter[str]:
    inits, sidecars = injected(template_meta.get("annotations") or {})
    app: Counter[str] = Counter()
    for c in spec["containers"] + sidecars:
        app.update(_resources(c))
    for init in (spec.get("initContainers") or []) + inits:
        for key, value in _resources(init).items():
            app[key] = max(app[key], value)
    return app


def autoscaled_max(docs: list[dict[str, Any]], deployment: dict[str, Any]) -> int:
    """Replicas at full scale-out: the autoscaler's maximum (KEDA ScaledObject or HPA), else the fixed replicas."""
    name, maximum = deployment["metadata"]["name"], deployment["spec"].get("replicas", 1)
    for so in by_kind(docs, "ScaledObject"):
        if so["spec"]["scaleTargetRef"]["name"] == name:
            maximum = so["spec"]["maxReplicaCount"]
    for hpa in by_kind(docs, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            maximum = hpa["spec"]["maxReplicas"]
    return int(maximum)


def max_pods(docs: list[dict[str, Any]], deployment: dict[str, Any]) -> int:
    """Replicas at full scale-out during a rollout: the autoscaler's maximum (or fixed replicas) + maxSurge."""
    maximum = autoscaled_max(docs, deployment)
    surge = deployment["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", "25%")
    surge = -(-maximum * int(surge[:-1]) // 100) if isinstance(surge, str) else surge
    return maximum + surge


def namespace_demand(docs: list[dict[str, Any]]) -> Counter[str]:
    """Requests/limits/pods of every workload at max scale + surge, plus the `helm test` pod."""
    total: Counter[str] = Counter()
    for dep in by_kind(docs, "Deployment"):
        n = max_pods(docs, dep)
        for key, value in pod_footprint(dep["spec"]["template"]["metadata"], pod_spec(dep)).items():
            total[key] += n * value
        total["pods"] += n
    for pod in by_kind(docs, "Pod"):
        total.update(pod_footprint(pod["metadata"], pod_spec(pod)))
        total["pods"] += 1
    return total


def quota_shortfalls(docs: list[dict[str, Any]]) -> list[str]:
    quotas = by_kind(docs, "ResourceQuota")
    if not quotas:
        return []
    hard = quotas[0]["spec"]["hard"]
    demand = namespace_demand(docs)
    return [
        f"{key}: {demand[key]:g} needed at max scale-out, quota {hard[key]}"
        for key in sorted(demand)
        if key in hard and demand[key] > quantity(hard[key])
    ]


def limit_range_violations(docs: list[dict[str, Any]]) -> list[str]:
    """Containers (injected ones included) whose limits exceed the LimitRange max: the API server rejects them."""
    ranges = by_kind(docs, "LimitRange")
    if not ranges:
        return []
    maximum = ranges[0]["spec"]["limits"][0].get("max", {})
    problems = []
    for doc in by_kind(docs, "Deployment") + by_kind(docs, "Pod"):
        meta = doc["metadata"] if doc["kind"] == "Pod" else doc["spec"]["template"]["metadata"]
        inits, sidecars = injected(meta.get("annotations") or {})
        for c in pod_spec(doc)["containers"] + inits + sidecars:
            for res, value in (c.get("resources", {}).get("limits") or {}).items():
                if res in maximum and quantity(value) > quantity(maximum[res]):
                    problems.append(f"{doc['metadata']['name']}/{c['name']}: limits.{res} {value} > max {maximum[res]}")
    return problems
