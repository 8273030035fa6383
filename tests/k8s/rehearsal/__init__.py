"""First-run rehearsal: the real `make` targets and the real scripts, with recording stand-ins for only the
outermost binaries (kubectl, helm, minikube, docker) first on PATH. Each stand-in logs its argv and answers like
the real tool from a shared model of the world (state.py), so the recording shows what a first install on
minikube, a dev cluster and a prod cluster would do, and fails where the real cluster would fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TOOLS = {"kubectl": "kubectl.py", "helm": "helm.py", "minikube": "local.py minikube", "docker": "local.py docker"}
# Variables a caller's environment may carry that the scenarios set themselves (or leave unset on purpose).
SCENARIO_VARS = (
    "IMAGE_TAG",
    "ENV",
    "CONFIRM_PROD",
    "IMAGES_FILE",
    "PLATFORM",
    "KUBE_CONTEXT",
    "REGISTRY",
    "ARGS",
    "VALUES",
    "API_SERVER_CIDRS",
    "CILIUM",
    "SKIP_NAMESPACES",
    "SKIP_POLICIES",
)
# Copied for a mutation run (the rest of the repository is not read by these targets).
# What the targets read; api/pyproject.toml and api/setup.py are prerequisites of the venv stamp (`make venv`).
TREE = ("Makefile", "VERSION", "mk", "deploy", "scripts", "tools", "jenkins", "api/pyproject.toml", "api/setup.py")


@dataclass
class Call:
    tool: str
    argv: list[str]
    rc: int
    extra: dict[str, Any]

    def startswith(self, *prefix: str) -> bool:
        return self.argv[: len(prefix)] == list(prefix)


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    calls: list[Call]
    world: dict[str, Any]
    root: Path = field(default=ROOT)

    def by(self, tool: str) -> list[Call]:
        return [c for c in self.calls if c.tool == tool]

    def index(self, predicate: Any) -> int:
        """Position of the first call matching predicate (ValueError when none)."""
        return next(i for i, c in enumerate(self.calls) if predicate(c))

    def upgrades(self) -> list[Call]:
        """Successful `helm upgrade --install` calls, with the stand-in's view of the release in extra."""
        return [c for c in self.by("helm") if "upgrade" in c.argv and c.rc == 0]

    def cluster(self, context: str) -> dict[str, Any]:
        return self.world["contexts"][context]

    def explain(self) -> str:
        lines = [f"rc={self.rc}", "--- stdout", self.stdout[-4000:], "--- stderr", self.stderr[-4000:], "--- calls"]
        lines += [f"{c.tool} {' '.join(c.argv)} -> {c.rc}" for c in self.calls]
        return "\n".join(lines)


def copy_tree(dest: Path) -> Path:
    """A copy of what the targets read, with the tool venvs linked (mtimes kept: no venv rebuild)."""
    dest.mkdir(parents=True)
    for name in TREE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, symlinks=True)
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for venv in (".venv",):
        if (ROOT / venv).exists():
            (dest / venv).symlink_to((ROOT / venv).resolve())
    return dest


class Rehearsal:
    """One scenario: a world (clusters, local images), stand-ins on PATH, then make targets run against it."""

    def __init__(self, workdir: Path, world: dict[str, Any], root: Path = ROOT) -> None:
        self.dir = workdir
        self.root = root
        self.bin = workdir / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.state = workdir / "world.json"
        self.log = workdir / "calls.jsonl"
        self.state.write_text(json.dumps(world))
        self.log.write_text("")
        for tool, target in TOOLS.items():
            script, *args = target.split()
            wrapper = self.bin / tool
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / script}" {" ".join(args)} "$@"\n')
            wrapper.chmod(0o755)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCENARIO_VARS and not k.startswith("MAKE")}
        k8s_bin = str(self.root / ".venv" / "k8s" / "bin")
        real_helm = shutil.which("helm", path=k8s_bin) or shutil.which("helm") or "helm"
        env.update(
            PATH=f"{self.bin}:{env.get('PATH', '/usr/bin:/bin')}",
            DOCKER=str(self.bin / "docker"),  # make's DOCKER defaults to /usr/bin/docker: point it at the stand-in
            REHEARSAL_STATE=str(self.state),
            REHEARSAL_LOG=str(self.log),
            REHEARSAL_REAL_HELM=real_helm,
            PYTHONDONTWRITEBYTECODE="1",
            HOME=str(self.dir),  # helm/minikube config of the scenario, not the user's
        )
        env.update(overrides)
        return env

    def make(self, *args: str, env: dict[str, str] | None = None, timeout: int = 120) -> Result:
        env = env or self.env()
        # PATH on make's command line: the Makefile's `export PATH := $(VENV)/bin:$(PATH)` would otherwise put the
        # venv's real kubectl and helm ahead of the stand-ins.
        cmd = ["make", "--no-print-directory", "-C", str(self.root), f"PATH={env['PATH']}", *args]
        return self.run(cmd, env=env, timeout=timeout)

    def run(self, cmd: list[str], env: dict[str, str] | None = None, timeout: int = 120) -> Result:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env or self.env(), timeout=timeout, stdin=subprocess.DEVNULL
        )
        calls = [
            Call(d.pop("tool"), d.pop("argv"), d.pop("rc"), d)
            for d in (json.loads(line) for line in self.log.read_text().splitlines())
        ]
        self.log.write_text("")
        return Result(proc.returncode, proc.stdout, proc.stderr, calls, json.loads(self.state.read_text()), self.root)
