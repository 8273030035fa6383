"""The rehearsal's workspace: a checkout as the agent has it, with recording stand-ins first on PATH (rehearsal.py
runs the jobs in it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from cicd_helpers import ROOT

HERE = Path(__file__).resolve().parent
__all__ = ["use_cluster_world", "workspace"]


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
