"""Scheduling: can every pod of the rendered workloads be placed, at full scale-out and through a rollout?

- Volumes: pods that share a ReadWriteOnce claim can only run on one node; on a cluster with more than one
  schedulable node they must be bound there (required podAffinity on kubernetes.io/hostname that selects every
  pod of the claim). ReadWriteOncePod admits one pod, surge included.
- Spread: a scheduler simulation of `topologySpreadConstraints` (whenUnsatisfiable DoNotSchedule; skew = pods in
  the candidate's domain + 1 - the emptiest eligible domain; eligible domains follow nodeTaintsPolicy: Ignore
  counts nodes the pod cannot use, Honor does not; matchLabelKeys counts only pods of the same pod-template-hash)
  placing the autoscaler's maximum, then rolling out a new ReplicaSet with the Deployment's maxSurge.
- Memory: a container's memory-backed emptyDirs are charged to its memory; their sizeLimit plus the memory the
  container itself requests must fit its limit (an unbounded one never fits).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..capacity import autoscaled_max, quantity
from ..conftest import by_kind, pod_spec
from ..netpol import selector_matches
from .world import Node, World


@dataclass
class Placed:
    workload: str
    labels: dict[str, str]
    node: Node


def _surge(dep: dict[str, Any], replicas: int) -> int:
    strategy = dep["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    return -(-replicas * int(surge[:-1]) // 100) if isinstance(surge, str) else int(surge)


def _claims(spec: dict[str, Any]) -> set[str]:
    return {v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", []) if "persistentVolumeClaim" in v}


def _required_affinity(spec: dict[str, Any]) -> list[dict[str, Any]]:
    terms = ((spec.get("affinity") or {}).get("podAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return [t for t in terms or [] if t.get("topologyKey") == "kubernetes.io/hostname"]


def volume_problems(docs: list[dict[str, Any]], world: World) -> list[str]:
    problems = []
    deps = by_kind(docs, "Deployment")
    for pvc in by_kind(docs, "PersistentVolumeClaim"):
        modes, claim = set(pvc["spec"]["accessModes"]), pvc["metadata"]["name"]
        if modes & {"ReadWriteMany", "ReadOnlyMany"}:
            continue
        users = [d for d in deps if claim in _claims(pod_spec(d))]
        pods = sum(autoscaled_max(docs, d) + _surge(d, autoscaled_max(docs, d)) for d in users)
        if modes == {"ReadWriteOncePod"} and pods > 1:
            problems.append(f"scheduling: {pods} pods mount ReadWriteOncePod claim {claim}")
        if pods <= 1 or len(world.schedulable) <= 1:
            continue
        for dep in users:
            bound = any(
                all(selector_matches(t["labelSelector"], u["spec"]["template"]["metadata"]["labels"]) for u in users)
                for t in _required_affinity(pod_spec(dep))
            )
            if not bound:
                problems.append(
                    f"scheduling: {dep['metadata']['name']} mounts ReadWriteOnce claim {claim} with {pods} pods in all "
                    f"and can land on another node than the others ({len(world.schedulable)} schedulable nodes)"
                )
    return problems


def _eligible(world: World, policy: str) -> tuple[Node, ...]:
    return world.nodes if policy == "Ignore" else world.schedulable


def _fits(node: Node, labels: dict[str, str], spec: dict[str, Any], placed: list[Placed], world: World) -> bool:
    for term in _required_affinity(spec):
        peers = [p for p in placed if selector_matches(term["labelSelector"], p.labels)]
        if peers and node.name not in {p.node.name for p in peers}:
            return False
        if not peers and not selector_matches(term["labelSelector"], labels):
            return False
    for c in spec.get("topologySpreadConstraints") or []:
        if c["whenUnsatisfiable"] != "DoNotSchedule":
            continue
        key = c["topologyKey"]
        same = {k: labels.get(k) for k in c.get("matchLabelKeys") or []}
        counted = [
            p
            for p in placed
            if selector_matches(c["labelSelector"], p.labels) and all(p.labels.get(k) == v for k, v in same.items())
        ]
        domains = {n.labels.get(key) for n in _eligible(world, c.get("nodeTaintsPolicy", "Ignore")) if key in n.labels}
        counts = {d: sum(1 for p in counted if p.node.labels.get(key) == d) for d in domains}
        if node.labels.get(key) not in counts:
            continue
        if counts[node.labels[key]] + 1 - min(counts.values()) > c["maxSkew"]:
            return False
    return True


def _place(name: str, labels: dict[str, str], spec: dict[str, Any], placed: list[Placed], world: World) -> str:
    candidates = [n for n in world.schedulable if _fits(n, labels, spec, placed, world)]
    if not candidates:
        return f"scheduling: {name}: pod {sum(1 for p in placed if p.workload == name) + 1} cannot be scheduled"
    node = min(candidates, key=lambda n: sum(1 for p in placed if p.node == n and p.workload == name))
    placed.append(Placed(name, labels, node))
    return ""


def spread_problems(docs: list[dict[str, Any]], world: World) -> list[str]:
    placed: list[Placed] = []
    problems: list[str] = []
    deps = by_kind(docs, "Deployment")

    def labels(dep: dict[str, Any], revision: str) -> dict[str, str]:
        return {**dep["spec"]["template"]["metadata"]["labels"], "pod-template-hash": revision}

    for dep in deps:
        for _ in range(autoscaled_max(docs, dep)):
            problems.append(_place(dep["metadata"]["name"], labels(dep, "old"), pod_spec(dep), placed, world))
    for dep in deps:  # a rollout: surge new pods, then replace the old ones one by one
        name, spec, replicas = dep["metadata"]["name"], pod_spec(dep), autoscaled_max(docs, dep)
        if _surge(dep, replicas) == 0:  # Recreate: every old pod goes first
            placed[:] = [p for p in placed if p.workload != name]
        new = 0
        for _ in range(min(_surge(dep, replicas), replicas)):
            problems.append(_place(name, labels(dep, "new"), spec, placed, world))
            new += 1
        while new < replicas:
            old = [p for p in placed if p.workload == name and p.labels["pod-template-hash"] == "old"]
            if old:
                crowded = max(old, key=lambda p: sum(1 for q in old if q.node == p.node))
                placed.remove(crowded)
            problems.append(_place(name, labels(dep, "new"), spec, placed, world))
            new += 1
        placed[:] = [p for p in placed if not (p.workload == name and p.labels["pod-template-hash"] == "old")]
    return sorted(set(p for p in problems if p))


def _memory_volumes(spec: dict[str, Any]) -> dict[str, str | None]:
    return {
        v["name"]: v["emptyDir"].get("sizeLimit")
        for v in spec.get("volumes", [])
        if (v.get("emptyDir") or {}).get("medium") == "Memory"
    }


def memory_problems(docs: Iterable[dict[str, Any]]) -> list[str]:
    problems = []
    for doc in [d for d in docs if d["kind"] in ("Deployment", "Pod")]:
        spec = pod_spec(doc)
        tmpfs = _memory_volumes(spec)
        for c in spec["containers"] + spec.get("initContainers", []):
            mounted = [m["name"] for m in c.get("volumeMounts", []) if m["name"] in tmpfs]
            if not mounted:
                continue
            where = f"memory: {doc['metadata']['name']}/{c['name']}"
            resources = c.get("resources") or {}
            limit = (resources.get("limits") or {}).get("memory")
            if limit is None or any(tmpfs[m] is None for m in mounted):
                problems.append(f"{where}: a memory-backed emptyDir with no bound on size or memory")
                continue
            own = quantity((resources.get("requests") or {}).get("memory", limit))
            used = own + sum(quantity(tmpfs[m] or 0) for m in mounted)
            if used > quantity(limit):
                problems.append(
                    f"{where}: request {own / 2**20:g}Mi + memory-backed {mounted} "
                    f"{(used - own) / 2**20:g}Mi > limit {limit} (the pod is OOM-killed when /tmp fills)"
                )
    return problems
