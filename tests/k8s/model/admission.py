"""Admission: what the API server and the admission webhooks do with each rendered object.

- ResourceQuota: requests/limits/pods at full scale-out (capacity.py: autoscaler maximum + surge, injected
  sidecars), and every object kind the quota counts (PVCs, Services, Secrets, ConfigMaps): the chart's own, the
  ones the namespace already holds (Secrets the values name, kube-root-ca.crt, helm's release history).
- LimitRange: no container (injected ones included) above the max.
- Pod Security "restricted" (the namespace's enforce level), as the kubelet-independent PSA admission checks it.
- Our admission policies (deploy/policies/generated) in the mode the namespace's label selects: a violation is
  rejected (Deny) or admitted with a warning (Warn): both are problems of the chart.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

import yaml

from tests.support.cel import load_policy

from ..capacity import limit_range_violations, quantity, quota_shortfalls
from ..conftest import POLICIES, by_kind, pod_spec
from ..netpol import selector_matches
from .world import World

WORKLOADS = ("Deployment", "Pod", "StatefulSet", "DaemonSet", "Job")
# Volume types Pod Security "restricted" admits.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected"}
RESTRICTED_VOLUMES |= {"secret"}


def generated_policies() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((POLICIES / "generated").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def effect(namespace: dict[str, Any], policies: list[dict[str, Any]]) -> dict[str, set[str]]:
    """For a pod in `namespace` that breaks a rule: which engine does what (VAP actions, Kyverno failure actions)."""
    labels = {**namespace["metadata"].get("labels", {}), "kubernetes.io/metadata.name": namespace["metadata"]["name"]}
    vap: set[str] = set()
    kyverno: set[str] = set()
    for doc in policies:
        if doc["kind"] == "ValidatingAdmissionPolicyBinding":
            if selector_matches(doc["spec"]["matchResources"].get("namespaceSelector", {}), labels):
                vap |= set(doc["spec"]["validationActions"])
        elif doc["kind"] == "ClusterPolicy":
            for rule in doc["spec"]["rules"]:
                for match in rule["match"]["any"]:
                    if selector_matches(match["resources"].get("namespaceSelector", {}), labels):
                        kyverno.add(rule["validate"]["failureAction"])
    return {"vap": vap, "kyverno": kyverno}


def verdict(namespace: dict[str, Any], policies: list[dict[str, Any]]) -> str:
    e = effect(namespace, policies)
    if not e["vap"] and not e["kyverno"]:
        return "unchecked"
    return "reject" if "Deny" in e["vap"] or "Enforce" in e["kyverno"] else "admit"


def as_pod(doc: dict[str, Any]) -> dict[str, Any]:
    """What admission sees: a Pod made from a workload's template (or the Pod itself)."""
    if doc["kind"] == "Pod":
        return doc
    return {"apiVersion": "v1", "kind": "Pod", "metadata": doc["spec"]["template"]["metadata"], "spec": pod_spec(doc)}


@functools.lru_cache(maxsize=4096)
def _denials(pod_json: str) -> frozenset[str]:
    return frozenset(load_policy_cached().denials(json.loads(pod_json)))


@functools.cache
def load_policy_cached() -> Any:
    return load_policy()


def _cache_key(pod: dict[str, Any]) -> str:
    """The pod as the rules can see it: fields no rule or variable mentions (env, labels) left out, so the many
    combinations that differ only there are evaluated once."""
    policy = load_policy_cached()
    sources = " ".join(src for _, src in (*policy.variables, *policy.rules))
    pod = copy.deepcopy(pod)
    if not re.search(r"\benv\b", sources):
        for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
            c.pop("env", None)
    if "labels" not in sources:
        pod["metadata"].pop("labels", None)
    return json.dumps(pod, sort_keys=True)


def policy_problems(docs: list[dict[str, Any]]) -> list[str]:
    namespaces = [d for d in by_kind(docs, "Namespace") if d["metadata"]["name"] == _release_ns(docs)]
    assert namespaces, "render with namespace.create=true: the namespace's labels pick the admission mode"
    mode = verdict(namespaces[0], generated_policies_cached())
    problems = []
    for doc in [d for d in docs if d["kind"] in WORKLOADS]:
        pod = as_pod(doc)
        denied = _denials(_cache_key(pod))
        if denied:
            action = "rejected" if mode == "reject" else "admitted with warnings"
            problems.append(f"admission: {doc['kind']} {doc['metadata']['name']} {action}: {sorted(denied)}")
    if mode == "unchecked":
        problems.append("admission: no policy binding selects the release namespace")
    return problems


@functools.cache
def generated_policies_cached() -> list[dict[str, Any]]:
    return generated_policies()


def _release_ns(docs: list[dict[str, Any]]) -> str:
    return next(d["metadata"]["namespace"] for d in docs if d["kind"] == "Deployment")


def _referenced_secrets(docs: list[dict[str, Any]]) -> set[str]:
    """Secrets the rendered objects name (volumes, env, TLS, pull secrets): they live in the namespace too."""
    names: set[str] = set()
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            spec = pod_spec(doc)
            names |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
            names |= {s["name"] for s in spec.get("imagePullSecrets", [])}
            for c in spec["containers"] + spec.get("initContainers", []):
                for e in c.get("env", []):
                    if "secretKeyRef" in (e.get("valueFrom") or {}):
                        names.add(e["valueFrom"]["secretKeyRef"]["name"])
        if doc["kind"] == "Ingress":
            names |= {t["secretName"] for t in doc["spec"].get("tls", []) if t.get("secretName")}
    return names


def object_counts(docs: list[dict[str, Any]], world: World) -> dict[str, int]:
    """What the quota's object counts see in the namespace after the deploy (helm test pod not counted here)."""
    secrets = {d["metadata"]["name"] for d in by_kind(docs, "Secret")} | _referenced_secrets(docs)
    return {
        "persistentvolumeclaims": len(by_kind(docs, "PersistentVolumeClaim")),
        "services": len(by_kind(docs, "Service")),
        "secrets": len(secrets) + world.helm_history,
        "configmaps": len(by_kind(docs, "ConfigMap")) + 1,  # + kube-root-ca.crt, in every namespace
    }


def quota_problems(docs: list[dict[str, Any]], world: World) -> list[str]:
    problems = [f"quota: {p}" for p in quota_shortfalls(docs)]
    problems += [f"limit range: {p}" for p in limit_range_violations(docs)]
    for quota in by_kind(docs, "ResourceQuota"):
        hard = quota["spec"]["hard"]
        for key, count in object_counts(docs, world).items():
            if key in hard and count > quantity(hard[key]):
                problems.append(f"quota: {key}: {count} in the namespace, quota {hard[key]}")
        storage = sum(
            quantity(p["spec"]["resources"]["requests"]["storage"]) for p in by_kind(docs, "PersistentVolumeClaim")
        )
        if "requests.storage" in hard and storage > quantity(hard["requests.storage"]):
            problems.append(f"quota: requests.storage {storage:g} > {hard['requests.storage']}")
    return problems


def _restricted(where: str, pod_sc: dict[str, Any], c: dict[str, Any]) -> list[str]:
    sc = c.get("securityContext") or {}
    out = []
    if sc.get("privileged"):
        out.append("privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append("allowPrivilegeEscalation != false")
    if set((sc.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}:
        out.append("capabilities added")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        out.append("capabilities not drop ALL")
    if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
        out.append("runAsNonRoot != true")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        out.append("runAsUser 0")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        out.append(f"seccompProfile {seccomp}")
    if any(p.get("hostPort") for p in c.get("ports", [])):
        out.append("hostPort")
    return [f"pod security restricted: {where}/{c['name']}: {o}" for o in out]


def pod_security_problems(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    for doc in [d for d in docs if d["kind"] in WORKLOADS]:
        spec, where = pod_spec(doc), f"{doc['kind']} {doc['metadata']['name']}"
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key):
                problems.append(f"pod security restricted: {where}: {key}")
        for v in spec.get("volumes", []):
            kinds = set(v) - {"name"}
            if not kinds <= RESTRICTED_VOLUMES:
                problems.append(f"pod security restricted: {where}: volume {v['name']} of type {sorted(kinds)}")
        pod_sc = spec.get("securityContext") or {}
        for c in spec["containers"] + spec.get("initContainers", []):
            problems += _restricted(where, pod_sc, c)
    return problems
