"""One cluster model for the rendered chart: every rendered object of every feature-toggle combination
(tests/k8s/model/matrix.py) goes through the same rules, each a platform rule (never template text):

    admission     quota + LimitRange, Pod Security restricted, our admission policies in the namespace's mode
    scheduling    RWO volumes vs replicas and surge, topology spread vs taints through a rollout, memory
    probes        liveness does not depend on another pod; no probe meets nginx's Host refusal (421)
    hosts         every client of nginx (Ingress, helm test pod) sends a Host nginx serves
    connectivity  every configured address has an egress path; every opened port has a client (scrapers)

`problems(env, docs)` -> every rule's findings, each prefixed by its rule; [] = the cluster takes the render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .admission import pod_security_problems, policy_problems, quota_problems
from .connectivity import flow_problems
from .hosts import host_problems
from .probes import probe_problems
from .scheduling import memory_problems, spread_problems, volume_problems
from .world import WORLDS

Docs = list[dict[str, Any]]
RULES: dict[str, Callable[[str, Docs], list[str]]] = {
    "quota": lambda env, docs: quota_problems(docs, WORLDS[env]),
    "pod-security": lambda env, docs: pod_security_problems(docs),
    "admission-policies": lambda env, docs: policy_problems(docs),
    "volumes": lambda env, docs: volume_problems(docs, WORLDS[env]),
    "spread": lambda env, docs: spread_problems(docs, WORLDS[env]),
    "memory": lambda env, docs: memory_problems(docs),
    "probes": lambda env, docs: probe_problems(docs),
    "hosts": lambda env, docs: host_problems(docs),
    "connectivity": flow_problems,
}


def problems(env: str, docs: Docs, rules: tuple[str, ...] = tuple(RULES)) -> list[str]:
    return [p for name in rules for p in RULES[name](env, docs)]
