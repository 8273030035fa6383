"""Shared helpers for the chart, policy, parity and script suites (run with .venv, see mk/k8s.mk)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.prereq import unavailable

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "container-inventory"
POLICIES = ROOT / "deploy" / "policies"
SHARED = ROOT.parent / "shared"
ENVS = ("minikube", "dev", "prod")
NAMESPACE = "container-inventory"
# CRD JSON schemas (kubeconform layout <group>/<kind>_<version>.json); CRD_SCHEMA_DIR overrides, ../shared in CI.
CRD_SCHEMA_DIR = Path(os.environ.get("CRD_SCHEMA_DIR") or ROOT.parent / "shared" / "schemas" / "crds")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# What `make push` writes (reports/images.json): prod renders get their digests from it, as deploy.sh passes them.
PUSHED_IMAGES = FIXTURES / "images.json"
# The CRD-backed APIs a cluster with the platform (KEDA, kube-prometheus-stack, External Secrets) serves.
PLATFORM_APIS = (
    "keda.sh/v1alpha1/ScaledObject",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
    "external-secrets.io/v1/ExternalSecret",
)


def crd_schemas() -> Path:
    """The CRD schema directory: missing fails under CI=true, elsewhere skips with the reason."""
    if not CRD_SCHEMA_DIR.is_dir():
        unavailable(f"CRD schemas not found at {CRD_SCHEMA_DIR} (set CRD_SCHEMA_DIR; ../shared is absent)")
    return CRD_SCHEMA_DIR


def tool(name: str) -> str:
    """A tool from .venv/k8s/bin (helm, kubectl: `make k8s-tools`), else PATH."""
    local = ROOT / ".venv" / "k8s" / "bin" / name
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


def template_cmd(env: str | None, *sets: str, apis: tuple[str, ...] = PLATFORM_APIS, chart: Path = CHART) -> list[str]:
    """helm template as deploy.sh runs it: the env's values file, prod with the pushed digests, the cluster's APIs."""
    cmd = [tool("helm"), "template", "inv", str(chart), "-n", NAMESPACE]
    if env:
        cmd += ["-f", str(chart / f"values-{env}.yaml")]
    if env == "prod":
        cmd += ["--set-file", f"pushedImages={PUSHED_IMAGES}"]
    for api in apis:
        cmd += ["--api-versions", api]
    for s in sets:
        cmd += ["--set", s]
    return cmd


@functools.lru_cache(maxsize=64)
def _render(env: str | None, sets: tuple[str, ...], apis: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    out = run(template_cmd(env, *sets, apis=apis), env={**os.environ, "HELM_DEBUG": ""}).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def render(
    env: str | None = None, *sets: str, tests: bool = True, apis: tuple[str, ...] = PLATFORM_APIS
) -> list[dict[str, Any]]:
    """Rendered chart objects (a cluster serving PLATFORM_APIS unless `apis`); includes the `helm test` hook pods."""
    docs = list(_render(env, tuple(sets), tuple(apis)))
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
