"""Shared helpers for the chart, policy, parity and script suites (run with .venv-k8s, see mk/k8s.mk)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "container-inventory"
POLICIES = ROOT / "deploy" / "policies"
SHARED = ROOT.parent / "shared"
ENVS = ("minikube", "dev", "prod")
NAMESPACE = "container-inventory"


def tool(name: str) -> str:
    """A tool from .venv-k8s/bin (installed by `make k8s-tools`), else PATH."""
    local = ROOT / ".venv-k8s" / "bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: run `make k8s-tools`")
    return found


def run(cmd: list[str], check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@functools.lru_cache(maxsize=64)
def _render(env: str | None, sets: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    cmd = [tool("helm"), "template", "inv", str(CHART), "-n", NAMESPACE]
    if env:
        cmd += ["-f", str(CHART / f"values-{env}.yaml")]
    for s in sets:
        cmd += ["--set", s]
    out = run(cmd, env={**os.environ, "HELM_DEBUG": ""}).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def render(env: str | None = None, *sets: str, tests: bool = True) -> list[dict[str, Any]]:
    """Rendered chart objects; helm template includes the `helm test` hook pods."""
    docs = list(_render(env, tuple(sets)))
    if not tests:
        docs = [d for d in docs if "helm.sh/hook" not in (d.get("metadata", {}).get("annotations") or {})]
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    matches = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    assert len(matches) == 1, f"expected one {kind} *{name_suffix}, got {[m['metadata']['name'] for m in matches]}"
    return matches[0]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "Pod":
        return doc["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]
