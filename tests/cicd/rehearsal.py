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

from cicd_helpers import ROOT, find, groovy_env, seed_jobs

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
    approvals: list[str] = field(default_factory=list)
    triggered: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    shells: list[tuple[str, dict[str, str], int, str]] = field(default_factory=list)
    failure: str | None = None

    def calls(self, tool: str) -> list[dict[str, Any]]:
        log = self.workspace / ".rehearsal" / "calls.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        return [c for c in map(json.loads, lines) if c["tool"] == tool]

    def output(self) -> str:
        return "\n".join(out for _, _, _, out in self.shells)


def workspace(tmp: Path, edits: dict[str, tuple[str, str]] | None = None) -> Path:
    """A checkout as the agent has it: the repository's files (tracked and new, not ignored) in a git repository of
    their own, so GIT_SHA is a real commit; the shared venvs linked. `edits` mutate files before the commit."""
    ws = tmp / "workspace"
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (ws / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, ws / rel, follow_symlinks=False)
    for venv in ROOT.glob(".venv*"):
        (ws / venv.name).symlink_to(venv)
    for rel, (old, new) in (edits or {}).items():
        text = (ws / rel).read_text()
        assert old in text, f"mutation anchor missing from {rel}: {old!r}"
        (ws / rel).write_text(text.replace(old, new, 1))
    git = ["git", "-C", str(ws), "-c", "user.name=rehearsal", "-c", "user.email=rehearsal@invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "rehearsal", "--no-verify"], check=True)
    bin_dir = ws / ".rehearsal" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("docker", "kubectl", "helm", "minikube"):
        (bin_dir / tool).symlink_to(HERE / "standin.py")
    (bin_dir / "make").symlink_to(HERE / "make_standin.py")
    (ws / ".rehearsal" / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    return ws


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


def use_cluster_world(ws: Path, world: dict[str, Any]) -> None:
    """Deploys talk to a cluster: kubectl, helm and minikube become the cluster stand-ins of tests/k8s/rehearsal
    (one shared model of the world: namespaces, CRDs, releases, what the registry holds), with `world` as the state.
    docker stays this suite's stand-in (it knows what the build jobs pushed)."""
    from tests.k8s.rehearsal import HERE as K8S_STANDINS
    from tests.k8s.rehearsal import TOOLS

    bin_dir = ws / ".rehearsal" / "bin"
    for tool in ("kubectl", "helm", "minikube"):
        script, *args = TOOLS[tool].split()
        (bin_dir / tool).unlink()
        (bin_dir / tool).write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{K8S_STANDINS / script}" {" ".join(args)} "$@"\n'
        )
        (bin_dir / tool).chmod(0o755)
    (ws / ".rehearsal" / "world.json").write_text(json.dumps(world))


def rehearse(
    job: str,
    ws: Path,
    params: dict[str, str] | None = None,
    artifacts: dict[str, Path] | None = None,
    path: Path | None = None,
    branch: str = "origin/main",
) -> Run:
    """Run `job` as Jenkins would with `params` (defaults for the rest) in workspace `ws`. `artifacts` maps a job
    name to the workspace of its last successful build (for copyArtifacts)."""
    values = {**job_parameters(job), **(params or {})}
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
    context = {
        "params": values,
        "env": dict(jenkins_env),
        "returns": {"checkout": {"GIT_BRANCH": branch, "GIT_COMMIT": sha}},
    }
    evaluated = _evaluate(path or jenkinsfile(job), context, ws.parent)
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
    script_env = {k: v for k, v in evaluated["env"].items() if k not in jenkins_env}
    walker = _Walker(run, script_env, artifacts or {})
    (pipeline,) = [c for c in evaluated["tree"]["children"] if c["name"] == "pipeline"]
    walker.block(pipeline, base, "pipeline")
    return run


class _Walker:
    def __init__(self, run: Run, script_env: dict[str, str], artifacts: dict[str, Path]) -> None:
        self.run = run
        self.script_env = script_env
        self.artifacts = artifacts

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
        for when in (c for c in stage["children"] if c["name"] == "when"):
            if any(c.get("result") == "false" for c in when["children"]):
                self.run.skipped.append(where)
                return
        if any(c["name"] == "input" for c in stage["children"]):
            self.run.approvals.append(where)  # a release manager clicks "Deploy to prod"
        self.run.stages.append(where)
        self.block(stage, env, where)

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
