"""First-run rehearsal of the Jenkins jobs: each Jenkinsfile, evaluated with real Groovy under the parameters and
environment Jenkins gives a build (dsl_probe.groovy --context), is walked stage by stage as Declarative runs it
(`when`, stage `environment`, `withCredentials`, `post { always }`), and every `sh` step runs with `sh -xe` (what
Jenkins runs) in a workspace copy of the repository with exactly that environment: every job parameter present, its
default applied as Jenkins applies it (a string parameter's default, the first choice), an empty string where it is
empty, plus the pipeline/stage `environment` and the credential bindings.

The edge is replaced by recording stand-ins (standin.py: docker, kubectl, helm, minikube; DOCKER points make at the
docker stand-in because the Makefile prefers /usr/bin/docker). The make targets CI already runs for real through
`make test` (lint, helm-lint, unit, images, scan, integration-suite) are expanded with `make -n` by a make wrapper
on PATH, so their commands are checked under the Jenkins environment without building or scanning a second time;
every other target (push, mirror, pull-images, images-json, deploy, down) runs for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cicd_helpers import ROOT, find, groovy_env, probe, seed_jobs
from jenkins_realm import Realm
from rehearsal_workspace import workspace
from stage_entry import entry_order, input_directive, when_holds

HERE = Path(__file__).resolve().parent
HEAVY = {"lint", "helm-lint", "unit", "images", "scan", "integration-suite"}
NOOP_STEPS = {
    *("checkout", "archiveArtifacts", "junit", "recordCoverage", "cleanWs", "echo", "timestamps", "lastSuccessful"),
    *("usernamePassword", "file", "string"),
}
SECRET = f"rehearsal-secret-{uuid.uuid4().hex}"


class StepFailed(Exception):
    pass


@dataclass
class Run:
    job: str
    params: dict[str, str]
    workspace: Path
    stages: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # stages whose input was asked
    approvals: list[str] = field(default_factory=list)  # ... and answered (approved) by someone allowed to
    triggered: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    shells: list[tuple[str, dict[str, str], int, str]] = field(default_factory=list)
    failure: str | None = None

    def calls(self, tool: str) -> list[dict[str, Any]]:
        log = self.workspace / ".rehearsal" / "calls.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        return [c for c in map(json.loads, lines) if c["tool"] == tool]

    def output(self) -> str:
        return "\n".join(out for _, _, _, out in self.shells)


def job_parameters(job: str) -> dict[str, str]:
    """Every parameter of the job with the value Jenkins gives it by default."""
    params = {}
    for call in find(seed_jobs()[job], "stringParam"):
        params[call["args"][0]] = call["args"][1]
    for call in find(seed_jobs()[job], "choiceParam"):
        params[call["args"][0]] = call["args"][1][0]
    return params


def jenkinsfile(job: str) -> Path:
    (path,) = [c["args"][0] for c in find(seed_jobs()[job], "scriptPath")]
    return ROOT / path


def _evaluate(path: Path, context: dict[str, Any], tmp: Path) -> dict[str, Any]:
    ctx = tmp / f"context-{uuid.uuid4().hex[:8]}.json"
    ctx.write_text(json.dumps(context))
    proc = subprocess.run(
        ["groovy", str(HERE / "dsl_probe.groovy"), "--context", str(ctx), str(path)],
        capture_output=True,
        text=True,
        env=groovy_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def rehearse(
    job: str,
    ws: Path,
    params: dict[str, str] | None = None,
    artifacts: dict[str, Path] | None = None,
    path: Path | None = None,
    branch: str = "origin/main",
    started_by: str = "release-manager-1",
    approver: str | None = None,
) -> Run:
    """Run `job` as Jenkins would with `params` (defaults for the rest) in workspace `ws`. `artifacts` maps a job
    name to the workspace of its last successful build (for copyArtifacts). The build is started by the user
    `started_by`; an input the build asks is answered by `approver` (None: nobody answers, the stage times out), who
    must be allowed to by the realm of the workspace's jenkins/casc.yaml."""
    values = {**job_parameters(job), **(params or {})}
    path = path or jenkinsfile(job)
    jenkins_env = {
        "BUILD_NUMBER": "7",
        "BUILD_ID": "7",
        "JOB_NAME": f"container-inventory/{job}",
        "JOB_BASE_NAME": job,
        "WORKSPACE": str(ws),
        "JENKINS_URL": "http://127.0.0.1:8081/",
        "BUILD_URL": f"http://127.0.0.1:8081/job/container-inventory/job/{job}/7/",
        "NODE_NAME": "docker-agent-1",
        "NODE_LABELS": "docker-agent-1 inventory-docker",
    }
    sha = subprocess.run(["git", "-C", str(ws), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    # The approver reaches the script as the input's submitterParameter (env inside that stage only).
    answered = {p: approver or "" for p in (c["args"][0] for c in find(probe(path), "submitterParameter") if c["args"])}
    cause = {"_class": "hudson.model.Cause$UserIdCause", "userId": started_by, "userName": started_by}
    context = {
        "params": values,
        "env": {**jenkins_env, **answered},
        "returns": {"checkout": {"GIT_BRANCH": branch, "GIT_COMMIT": sha}, "getBuildCauses": [cause]},
    }
    evaluated = _evaluate(path, context, ws.parent)
    run = Run(job, values, ws)
    base = {
        # The agent's own environment: a login shell's PATH with the stand-ins first, a HOME of its own.
        "PATH": f"{ws / '.rehearsal' / 'bin'}:{os.environ['PATH']}",
        "HOME": str(ws / ".rehearsal"),
        "LANG": "C.UTF-8",
        "REHEARSAL_LOG": str(ws / ".rehearsal" / "calls.jsonl"),
        "REHEARSAL_REAL_MAKE": shutil.which("make") or "make",
        "REHEARSAL_REAL_HELM": str(ROOT / ".venv" / "k8s" / "bin" / "helm"),
        "REHEARSAL_HEAVY": " ".join(sorted(HEAVY)),
        "DOCKER": str(ws / ".rehearsal" / "bin" / "docker"),
        "REHEARSAL_STATE": str(ws / ".rehearsal" / "world.json"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "JAVA_HOME": groovy_env()["JAVA_HOME"],
        **jenkins_env,
        # Jenkins exports every parameter to the environment of sh steps, empty ones as empty strings.
        **values,
    }
    script_env = {k: v for k, v in evaluated["env"].items() if k not in context["env"]}
    realm = Realm.from_casc(yaml.safe_load((ws / "jenkins" / "casc.yaml").read_text()))
    walker = _Walker(run, script_env, artifacts or {}, realm, approver)
    (pipeline,) = [c for c in evaluated["tree"]["children"] if c["name"] == "pipeline"]
    walker.block(pipeline, base, "pipeline")
    return run


class _Walker:
    def __init__(
        self, run: Run, script_env: dict[str, str], artifacts: dict[str, Path], realm: Realm, approver: str | None
    ) -> None:
        self.run = run
        self.script_env = script_env
        self.artifacts = artifacts
        self.realm = realm
        self.approver = approver

    def resolve(self, value: Any) -> str:
        text = str(value)
        while "@readFile:" in text:
            start = text.index("@readFile:")
            end = text.index("@", start + 1)
            rel = text[start + len("@readFile:") : end]
            target = self.run.workspace / rel
            if not target.exists():
                raise StepFailed(f"readFile: {rel} does not exist")
            text = text[:start] + target.read_text() + text[end + 1 :]
        return text.strip() if text != str(value) else text

    def environment(self, block: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
        out = dict(env)
        for section in (c for c in block["children"] if c["name"] == "environment"):
            for var in section["children"]:
                out[var["name"].removeprefix("=")] = self.resolve(var["args"][0])
        return out

    def block(self, block: dict[str, Any], env: dict[str, str], where: str) -> None:
        env = self.environment(block, env)
        try:
            for stages in (c for c in block["children"] if c["name"] == "stages"):
                for stage in stages["children"]:
                    self.stage(stage, env, f"{where} > {stage['args'][0]}")
            for steps in (c for c in block["children"] if c["name"] == "steps"):
                self.steps(steps, env)
        except StepFailed as exc:
            self.run.failure = self.run.failure or f"{where}: {exc}"
        failed = bool(self.run.failure)
        runs = {"always": True, "cleanup": True, "failure": failed, "unsuccessful": failed, "success": not failed}
        for post in (c for c in block["children"] if c["name"] == "post"):
            for cond in post["children"]:
                if runs.get(cond["name"], False):
                    self.steps(cond, env, in_post=True)

    def stage(self, stage: dict[str, Any], env: dict[str, str], where: str) -> None:
        if self.run.failure:
            self.run.skipped.append(where)
            return
        for directive in entry_order(stage):  # options, input, agent, when: `when` placed by its before* flags
            if directive == "when" and not when_holds(stage):
                self.run.skipped.append(where)
                return
            if directive == "input":
                try:
                    env = {**env, **self.answer(stage, where)}
                except StepFailed as exc:
                    self.run.failure = self.run.failure or f"{where}: {exc}"
                    return
        self.run.stages.append(where)
        self.block(stage, env, where)

    def answer(self, stage: dict[str, Any], where: str) -> dict[str, str]:
        """The input is asked: the approver answers if the realm lets them (InputStepExecution.canSettle);
        nobody answering means the stage's timeout aborts the build. Returns the submitterParameter binding."""
        directive = input_directive(stage) or {}
        self.run.asked.append(where)
        if self.approver is None:
            raise StepFailed(f"input {directive.get('message')!r} was not answered: the stage timeout aborts the build")
        if not self.realm.can_settle(self.approver, directive.get("submitter")):
            raise StepFailed(f"{self.approver} may not answer {directive.get('message')!r}: nobody else did")
        self.run.approvals.append(where)
        name = directive.get("submitterParameter")
        return {str(name): self.approver} if name else {}

    def steps(self, node: dict[str, Any], env: dict[str, str], in_post: bool = False) -> None:
        children = node["children"]
        for i, step in enumerate(children):
            name = step["name"]
            if name == "sh":
                arg = step["args"][0]
                script = arg["script"] if isinstance(arg, dict) else arg
                self.sh(script, env, in_post)
            elif name == "withCredentials":
                self.steps(step, {**env, **self.bindings(children[:i])}, in_post)
            elif name == "script":
                self.steps(step, env, in_post)
            elif name == "error":
                raise StepFailed(f"error: {step['args'][0]}")
            elif name == "build":
                args = step["args"][0]
                strings = [c["args"][0] for c in children[:i] if c["name"] == "string"]
                self.run.triggered.append((args["job"], {s["name"]: self.resolve(s["value"]) for s in strings}))
            elif name == "copyArtifacts":
                self.copy_artifacts(step["args"][0])
            elif name == "readFile":
                self.resolve(f"@readFile:{step['args'][0]}@")
            elif name not in NOOP_STEPS:
                raise AssertionError(f"the rehearsal does not know the step `{name}`: teach it (rehearsal.py)")

    def bindings(self, before: list[dict[str, Any]]) -> dict[str, str]:
        env = {}
        for call in before:
            args = call["args"][0] if call["args"] and isinstance(call["args"][0], dict) else {}
            if call["name"] == "usernamePassword":
                env[args["usernameVariable"]] = "rehearsal-bot"
                env[args["passwordVariable"]] = SECRET
            elif call["name"] == "file":
                env[args["variable"]] = str(self.run.workspace / ".rehearsal" / "kubeconfig")
        return env

    def copy_artifacts(self, args: dict[str, Any]) -> None:
        source = self.artifacts.get(args["projectName"])
        if source is None:
            raise StepFailed(f"copyArtifacts: {args['projectName']} has no successful build")
        for path in source.glob(args["filter"]):
            target = self.run.workspace / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)

    def sh(self, script: str, env: dict[str, str], in_post: bool) -> None:
        full = {**env}
        for key, value in self.script_env.items():
            try:
                full[key] = self.resolve(value)
            except StepFailed:
                continue  # assigned by a later step (e.g. a file not written yet)
        proc = subprocess.run(
            ["sh", "-xe", "-c", script],
            cwd=self.run.workspace,
            env=full,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        out = proc.stdout + proc.stderr
        self.run.shells.append((script, full, proc.returncode, out))
        if proc.returncode != 0 and not in_post:
            raise StepFailed(f"sh exited {proc.returncode}: {script.strip()}\n{out[-3000:]}")


if __name__ == "__main__":  # manual: python tests/cicd/rehearsal.py <job> [K=V ...]
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    result = rehearse(sys.argv[1], workspace(tmp), dict(a.split("=", 1) for a in sys.argv[2:]))
    print(json.dumps({**result.__dict__, "workspace": str(result.workspace), "shells": len(result.shells)}, indent=1))
