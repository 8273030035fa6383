"""Declarative Pipeline semantics, as the Pipeline Syntax reference (jenkins.io/doc/book/pipeline/syntax) defines them,
checked on the call tree dsl_probe.groovy records: which sections and directives may appear where (and how often),
option names at pipeline and stage level, timeout units, `input` placement and agent use. Jenkins itself would reject
most of these only when the build starts (or, for an `input` step under an agent, never: it holds the executor)."""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]

PIPELINE_SECTIONS = {
    "agent",
    "environment",
    "options",
    "parameters",
    "triggers",
    "tools",
    "stages",
    "post",
    "libraries",
}
STAGE_SECTIONS = {"agent", "environment", "input", "options", "when", "tools", "post", "failFast"}
STAGE_BODIES = {"steps", "stages", "parallel", "matrix"}
PIPELINE_OPTIONS = {
    *(
        "buildDiscarder",
        "checkoutToSubdirectory",
        "disableConcurrentBuilds",
        "disableRestartFromStage",
        "disableResume",
    ),
    *(
        "newContainerPerStage",
        "overrideIndexTriggers",
        "preserveStashes",
        "quietPeriod",
        "retry",
        "skipDefaultCheckout",
    ),
    *("skipStagesAfterUnstable", "timeout", "timestamps", "parallelsAlwaysFailFast", "ansiColor"),
}
# "the stage-level options can only contain steps like retry, timeout, or timestamps, or Declarative options that are
# relevant to a stage, like skipDefaultCheckout"
STAGE_OPTIONS = {"retry", "timeout", "timestamps", "skipDefaultCheckout"}
TIME_UNITS = {"NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS"}
POST_CONDITIONS = {
    *("always", "changed", "fixed", "regression", "aborted", "failure", "success", "unstable", "unsuccessful"),
    "cleanup",
    "notBuilt",
}
WHEN_CONDITIONS = {
    *("branch", "buildingTag", "changelog", "changeset", "changeRequest", "environment", "equals", "expression"),
    *("tag", "not", "allOf", "anyOf", "triggeredBy", "beforeAgent", "beforeInput", "beforeOptions"),
}
INPUT_OPTIONS = {"message", "id", "ok", "submitter", "submitterParameter", "parameters"}
AGENT_KINDS = {"label", "node", "docker", "dockerfile", "kubernetes"}
# Steps that need a workspace (a node): outside any agent they fail with "Required context class hudson.FilePath".
NODE_STEPS = {"sh", "bat", "checkout", "junit", "archiveArtifacts", "cleanWs", "readFile", "writeFile", "copyArtifacts"}
NODE_STEPS |= {"recordCoverage", "stash", "unstash", "dir", "deleteDir", "readJSON"}
DIRECTIVES = PIPELINE_SECTIONS | STAGE_SECTIONS | STAGE_BODIES | {"stage"}


def _children(node: Node, name: str) -> list[Node]:
    return [c for c in node["children"] if c["name"] == name]


def _once(node: Node, where: str, allowed: set[str], errors: list[str]) -> None:
    for child in node["children"]:
        name = child["name"]
        if name not in allowed:
            errors.append(f"{where}: `{name}` is not allowed here (allowed: {', '.join(sorted(allowed))})")
        elif len(_children(node, name)) > 1 and child is _children(node, name)[1]:
            errors.append(f"{where}: `{name}` appears more than once")


def _options(node: Node, where: str, allowed: set[str], errors: list[str]) -> None:
    for opt in node["children"]:
        if opt["name"] not in allowed:
            errors.append(f"{where} options: `{opt['name']}` is not a valid option here")
        if opt["name"] == "timeout":
            args = opt["args"][0] if opt["args"] and isinstance(opt["args"][0], dict) else {}
            time = args.get("time")
            if not isinstance(time, int) or time <= 0:
                errors.append(f"{where} options: timeout time must be a positive integer, not {time!r}")
            unit = args.get("unit", "MINUTES")
            if unit not in TIME_UNITS:
                errors.append(
                    f"{where} options: timeout unit {unit!r} is not a TimeUnit ({', '.join(sorted(TIME_UNITS))})"
                )


def _agent(node: Node, where: str, errors: list[str]) -> bool | None:
    """True: allocates a node; False: agent none; None: no agent section."""
    agents = _children(node, "agent")
    if not agents:
        return None
    agent = agents[0]
    if agent["args"] in (["none"], ["any"]) and not agent["children"]:
        return agent["args"] == ["any"]
    kinds = [c["name"] for c in agent["children"]]
    if len(kinds) != 1 or kinds[0] not in AGENT_KINDS or agent["args"]:
        errors.append(f"{where}: agent must be none, any or one of {sorted(AGENT_KINDS)}, not {kinds or agent['args']}")
    return True


def _steps(node: Node, where: str, on_node: bool, errors: list[str]) -> None:
    for step in node["children"]:
        name = step["name"]
        if name in DIRECTIVES and name != "environment":
            errors.append(f"{where}: `{name}` is a declarative section, not a step")
        if name in NODE_STEPS and not on_node:
            errors.append(f"{where}: `{name}` needs a workspace but no agent is allocated here")
        if name == "input" and on_node:
            errors.append(f"{where}: `input` step while an agent is held: use the stage-level input directive")
        _steps(step, where, on_node, errors)


def _post(node: Node, where: str, on_node: bool, errors: list[str]) -> None:
    for cond in node["children"]:
        if cond["name"] not in POST_CONDITIONS:
            errors.append(f"{where} post: `{cond['name']}` is not a post condition")
        else:
            _steps(cond, f"{where} post {cond['name']}", on_node, errors)


def _when(node: Node, where: str, errors: list[str]) -> None:
    for cond in node["children"]:
        if cond["name"] not in WHEN_CONDITIONS:
            errors.append(f"{where} when: `{cond['name']}` is not a when condition")
        if cond["name"] in ("not", "allOf", "anyOf"):
            _when(cond, where, errors)


def _stage(stage: Node, where: str, on_node: bool, errors: list[str]) -> None:
    name = f"{where} > stage {stage['args'][0] if stage['args'] else '?'}"
    if not stage["args"] or not isinstance(stage["args"][0], str):
        errors.append(f"{name}: a stage needs a name")
    _once(stage, name, STAGE_SECTIONS | STAGE_BODIES, errors)
    bodies = [c["name"] for c in stage["children"] if c["name"] in STAGE_BODIES]
    if len(bodies) != 1:
        errors.append(f"{name}: needs exactly one of steps, stages, parallel, matrix (has {bodies or 'none'})")
    agent = _agent(stage, name, errors)
    for inp in _children(stage, "input"):
        if on_node:
            errors.append(f"{name}: input directive inside an agent held by an outer block keeps that executor")
        keys = {c["name"] for c in inp["children"]}
        if "message" not in keys:
            errors.append(f"{name}: input directive needs a message")
        for key in keys - INPUT_OPTIONS:
            errors.append(f"{name}: `{key}` is not an input directive option")
    for opts in _children(stage, "options"):
        _options(opts, name, STAGE_OPTIONS, errors)
    for when in _children(stage, "when"):
        _when(when, name, errors)
    here = on_node or bool(agent)
    for steps in _children(stage, "steps"):
        _steps(steps, name, here, errors)
    for stages in _children(stage, "stages"):
        _stages(stages, name, here, errors)
    for post in _children(stage, "post"):
        _post(post, name, here, errors)


def _stages(node: Node, where: str, on_node: bool, errors: list[str]) -> None:
    if not node["children"]:
        errors.append(f"{where}: stages needs at least one stage")
    for child in node["children"]:
        if child["name"] != "stage":
            errors.append(f"{where} stages: only `stage` is allowed, not `{child['name']}`")
        else:
            _stage(child, where, on_node, errors)


def validate(tree: Node) -> list[str]:
    """Every violation of the declarative structure in a probed Jenkinsfile (empty list: valid)."""
    errors: list[str] = []
    top = [c for c in tree["children"] if not c["name"].startswith("=")]
    if [c["name"] for c in top] != ["pipeline"]:
        return [f"the top level must be exactly one pipeline block, not {[c['name'] for c in top]}"]
    pipeline = top[0]
    _once(pipeline, "pipeline", PIPELINE_SECTIONS, errors)
    for required in ("agent", "stages"):
        if not _children(pipeline, required):
            errors.append(f"pipeline: `{required}` is required")
    on_node = bool(_agent(pipeline, "pipeline", errors))
    for opts in _children(pipeline, "options"):
        _options(opts, "pipeline", PIPELINE_OPTIONS, errors)
    for stages in _children(pipeline, "stages"):
        _stages(stages, "pipeline", on_node, errors)
    for post in _children(pipeline, "post"):
        _post(post, "pipeline", on_node, errors)
    return errors
