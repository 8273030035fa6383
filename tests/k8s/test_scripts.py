"""Deploy scripts: shellcheck, dry runs print every command and run none, prod needs confirmation."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from .conftest import ROOT, run

SCRIPTS = ROOT / "deploy" / "scripts"


def _dry(script: str, *args: str) -> str:
    # An empty PATH for the tools proves a dry run needs (and runs) none of them.
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    proc = run(["bash", str(SCRIPTS / script), *args], env=env)
    return proc.stdout


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (tools/apt-packages.txt)")
def test_shellcheck_clean():
    run(["shellcheck", *sorted(str(p) for p in SCRIPTS.glob("*.sh"))])


@pytest.mark.parametrize("env_name", ["dev", "minikube"])
def test_deploy_dry_run_prints_every_step(env_name):
    out = _dry("deploy.sh", "--env", env_name, "--dry-run")
    commands = [line[2:] for line in out.splitlines() if line.startswith("+ ")]
    assert any(c.startswith("helm upgrade --install keda kedacore/keda --version 2.") for c in commands)
    assert any("kube-prometheus-stack --version" in c for c in commands)
    assert any(c.startswith("helm upgrade --install kyverno kyverno/kyverno --version 3.") for c in commands)
    assert any("apply -f" in c and "validating-admission-policy.yaml" in c for c in commands)
    install = next(c for c in commands if c.startswith("helm upgrade --install inventory "))
    assert f"values-{env_name}.yaml" in install and "--atomic" in install and "--wait" in install
    assert any(c.startswith("helm test inventory") for c in commands)
    assert "port-forward" in out


def test_platform_chart_versions_are_pinned():
    lib = (SCRIPTS / "lib.sh").read_text()
    for var in ("KEDA_CHART_VERSION", "KYVERNO_CHART_VERSION"):
        assert re.search(rf'^export {var}="\d+\.\d+\.\d+"$', lib, re.M), var
    # kube-prometheus-stack: one pin shared with the monitoring lane's values and scripts.
    versions = (SCRIPTS.parent / "monitoring" / "versions.env").read_text()
    kps = re.search(r"^KUBE_PROMETHEUS_STACK_VERSION=(\d+\.\d+\.\d+)$", versions, re.M)
    assert kps, "deploy/monitoring/versions.env does not pin kube-prometheus-stack"
    out = _dry("deploy.sh", "--env", "dev", "--dry-run")
    assert f"kube-prometheus-stack --version {kps.group(1)} " in out
    for line in out.splitlines():
        if line.startswith("+ helm upgrade --install") and "/container-inventory" not in line:
            assert re.search(r"--version \d+\.\d+\.\d+", line), line


def test_prod_refuses_without_confirmation():
    proc = run(["bash", str(SCRIPTS / "deploy.sh"), "--env", "prod", "--dry-run"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: refusing to deploy to prod without --confirm-prod (make deploy ENV=prod CONFIRM_PROD=yes)"
    )
    assert "+ " not in proc.stdout
    out = _dry("deploy.sh", "--env", "prod", "--dry-run", "--confirm-prod")
    assert "values-prod.yaml" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "error: --env is required (dev, prod or minikube)"),
        (("--env", "staging"), "error: --env must be dev, prod or minikube, not 'staging'"),
        (("--env", "dev", "--bogus"), "error: unknown argument: --bogus (see --help)"),
    ],
)
def test_bad_arguments_fail_with_one_clear_line(args, message):
    proc = run(["bash", str(SCRIPTS / "deploy.sh"), *args], check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == message


def test_minikube_up_dry_run():
    out = _dry("minikube-up.sh", "--dry-run")
    assert "+ minikube start --profile container-inventory --kubernetes-version v1.33" in out
    assert "--cni calico" in out  # NetworkPolicies need an enforcing CNI
    # the chart's one registry (imagePullPolicy Never on minikube: the loaded name must be the one the chart uses)
    assert "image load ghcr.io/container-inventory/flask-api:" in out
    assert "image load ghcr.io/container-inventory/nginx-proxy:" in out
    assert "+ helm --kube-context container-inventory test inventory" in out


def test_make_targets_dry_run():
    out = run(["make", "-s", "-C", str(ROOT), "deploy-dry-run", "ENV=dev"]).stdout
    assert "+ helm upgrade --install inventory" in out
    proc = run(["make", "-s", "-C", str(ROOT), "deploy", "ENV=prod"], check=False)
    assert proc.returncode != 0 and "refusing to deploy to prod" in proc.stdout + proc.stderr
