"""An executor/label model of the Jenkins agents in casc.yaml, replaying what each pipeline does with executors.

Each Jenkinsfile (as evaluated by dsl_probe.groovy) becomes a list of operations: take an executor for a label
(`agent` at pipeline or stage level), give it back, trigger a downstream job (`build job: ..., wait: ...`). The model
starts every job at once (the worst case: all SCM pollers fire together, someone starts deploy and runner-job) and
explores every interleaving of Jenkins' queue: a queued build starts when its job has no running build (all jobs
disable concurrent builds, from the seed) and an `agent` step proceeds when a node carrying the label has a free
executor. A reachable state in which unfinished builds can make no move is a deadlock: some wait can never be
satisfied. That is exactly issue 9's "Jenkins deadlocks on every main build" (a build holding the only executor while
it waits for runner-job, which needs that executor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    name: str
    labels: frozenset[str]
    executors: int
    exclusive: bool  # mode EXCLUSIVE: only builds that ask for one of its labels


@dataclass(frozen=True)
class Op:
    kind: str  # "acquire" | "release" | "build"
    label: str | None = None  # acquire: a label, or None for `agent any`
    job: str | None = None  # build: the downstream job
    wait: bool = True
    where: str = ""  # the stage, for messages


@dataclass
class Job:
    name: str
    ops: list[Op]
    concurrent: bool = False


@dataclass(frozen=True)
class Build:
    job: str
    pc: int  # -1 = queued, len(ops) = finished
    held: tuple[str, ...] = ()  # node names, innermost last
    waiting_for: int | None = None  # index of the downstream build a `wait: true` waits for


@dataclass
class Result:
    deadlocks: list[str] = field(default_factory=list)
    states: int = 0


def nodes_from_casc(casc: dict[str, Any]) -> list[Node]:
    j = casc["jenkins"]
    nodes = [
        Node(
            "built-in",
            frozenset(str(j.get("labelString", "")).split()) | {"built-in"},
            int(j.get("numExecutors", 2)),
            j.get("mode", "NORMAL") == "EXCLUSIVE",
        )
    ]
    for entry in j.get("nodes", []):
        ((_, body),) = entry.items()
        nodes.append(
            Node(
                body["name"],
                frozenset(str(body.get("labelString", "")).split()) | {body["name"]},
                int(body.get("numExecutors", 1)),
                body.get("mode", "NORMAL") == "EXCLUSIVE",
            )
        )
    return nodes


def _agent_label(agent: dict[str, Any] | None) -> tuple[bool, str | None]:
    """(allocates a node, its label) for an `agent` call; label None means `agent any`."""
    if agent is None:
        return False, None
    if agent["args"] == ["none"]:
        return False, None
    if agent["args"] == ["any"]:
        return True, None
    for child in agent["children"]:
        if child["name"] == "label":
            label = child["args"][0]
            if any(c in label for c in "&|!() "):
                raise ValueError(f"label expression {label!r}: the model knows plain labels only")
            return True, label
        if child["name"] == "node":
            labels = [c["args"][0] for c in child["children"] if c["name"] == "label"]
            return True, labels[0] if labels else None
    raise ValueError(f"agent kind the model does not know: {agent}")


def _builds(node: dict[str, Any], where: str) -> list[Op]:
    """Every `build` call below a steps/post block, in order."""
    ops = []
    for child in node["children"]:
        if child["name"] == "build":
            first = child["args"][0]
            args = first if isinstance(first, dict) else {"job": first}
            job = str(args["job"]).split("/")[-1]
            ops.append(Op("build", job=job, wait=bool(args.get("wait", True)), where=where))
        else:
            ops += _builds(child, where)
    return ops


def _section(node: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = [c for c in node["children"] if c["name"] == name]
    return found[0] if found else None


def _block_ops(block: dict[str, Any], where: str) -> list[Op]:
    """Ops of a pipeline or stage: its agent, nested stages or steps, its post."""
    if any(_section(block, k) for k in ("parallel", "matrix")):
        raise ValueError(f"{where}: parallel/matrix: the model does not replay them")
    takes, label = _agent_label(_section(block, "agent"))
    ops: list[Op] = [Op("acquire", label=label, where=where)] if takes else []
    stages = _section(block, "stages")
    for stage in stages["children"] if stages else []:
        ops += _block_ops(stage, f"{where} > {stage['args'][0]}")
    steps = _section(block, "steps")
    if steps:
        ops += _builds(steps, where)
    post = _section(block, "post")
    if post:
        ops += _builds(post, f"{where} (post)")
    if takes:
        ops.append(Op("release", where=where))
    return ops


def pipeline_ops(tree: dict[str, Any]) -> list[Op]:
    (pipeline,) = [c for c in tree["children"] if c["name"] == "pipeline"]
    return _block_ops(pipeline, "pipeline")


def _can_use(node: Node, label: str | None) -> bool:
    if label is None:
        return not node.exclusive
    return label in node.labels


def explore(jobs: dict[str, Job], nodes: list[Node], roots: list[str], limit: int = 200_000) -> Result:
    """Every interleaving from `roots` started together; a stuck state with unfinished builds is a deadlock."""
    result = Result()
    start = tuple(Build(job, -1) for job in roots)
    seen: set[tuple[Build, ...]] = set()
    todo = [start]
    while todo:
        state = todo.pop()
        if state in seen:
            continue
        seen.add(state)
        if len(seen) > limit:
            raise RuntimeError("state space too large for the executor model")
        moves = list(_moves(state, jobs, nodes))
        unfinished = [b for b in state if b.pc < len(jobs[b.job].ops)]
        if not moves and unfinished:
            result.deadlocks.append(_describe(state, jobs))
        todo += moves
    result.states = len(seen)
    return result


def _free(state: tuple[Build, ...], node: Node) -> int:
    return node.executors - sum(b.held.count(node.name) for b in state)


def _moves(state: tuple[Build, ...], jobs: dict[str, Job], nodes: list[Node]):
    for i, b in enumerate(state):
        job = jobs[b.job]
        if b.pc == -1:
            running = any(o.job == b.job and 0 <= o.pc < len(jobs[o.job].ops) for o in state)
            if job.concurrent or not running:
                yield _replace(state, i, Build(b.job, 0))
            continue
        if b.pc >= len(job.ops):
            continue
        if b.waiting_for is not None:
            child = state[b.waiting_for]
            if child.pc >= len(jobs[child.job].ops):
                yield _replace(state, i, Build(b.job, b.pc + 1, b.held))
            continue
        op = job.ops[b.pc]
        if op.kind == "acquire":
            for node in nodes:
                if _can_use(node, op.label) and _free(state, node) > 0:
                    yield _replace(state, i, Build(b.job, b.pc + 1, (*b.held, node.name)))
        elif op.kind == "release":
            yield _replace(state, i, Build(b.job, b.pc + 1, b.held[:-1]))
        elif op.kind == "build":
            if op.job not in jobs:
                raise ValueError(f"{b.job}: `build job: '{op.job}'` names no job the seed creates")
            spawned = (*state, Build(op.job, -1))
            if op.wait:
                yield _replace(spawned, i, Build(b.job, b.pc, b.held, waiting_for=len(state)))
            else:
                yield _replace(spawned, i, Build(b.job, b.pc + 1, b.held))


def _replace(state: tuple[Build, ...], i: int, b: Build) -> tuple[Build, ...]:
    return (*state[:i], b, *state[i + 1 :])


def _describe(state: tuple[Build, ...], jobs: dict[str, Job]) -> str:
    parts = []
    for b in state:
        ops = jobs[b.job].ops
        if b.pc >= len(ops):
            continue
        held = f" holding {', '.join(b.held)}" if b.held else ""
        if b.pc == -1:
            parts.append(f"{b.job} queued behind its running build")
        elif b.waiting_for is not None:
            parts.append(f"{b.job}{held} waits for {state[b.waiting_for].job} ({ops[b.pc].where})")
        else:
            op = ops[b.pc]
            parts.append(f"{b.job}{held} waits for an executor labelled {op.label or 'any'} ({op.where})")
    return "; ".join(parts)
