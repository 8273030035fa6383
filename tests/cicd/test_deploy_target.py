"""`make deploy` exactly as deploy.Jenkinsfile calls it (ENV, IMAGE_TAG, CONFIRM_PROD, KUBECONFIG from the file
credential), in the k8s lane's DRY_RUN mode: no cluster here, but the real target, script and chart paths run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cicd_helpers import ROOT

CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def deploy(tmp_path: Path, env_name: str, **extra: str) -> subprocess.CompletedProcess[str]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    env = {**CLEAN_ENV, "KUBECONFIG": str(kubeconfig), "DRY_RUN": "1", **extra}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "deploy", f"ENV={env_name}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("env_name", ["minikube", "dev"])
def test_deploy_runs_an_atomic_helm_upgrade(tmp_path: Path, env_name: str) -> None:
    proc = deploy(tmp_path, env_name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    upgrade = [ln for ln in proc.stdout.splitlines() if " upgrade --install inventory " in ln]
    assert upgrade, proc.stdout
    assert "--atomic --wait" in upgrade[0]
    assert f"values-{env_name}.yaml" in upgrade[0]
    assert " test inventory " in proc.stdout  # the smoke test through Nginx (helm test)


def test_prod_needs_the_confirmation_the_approval_stage_gives(tmp_path: Path) -> None:
    refused = deploy(tmp_path, "prod")
    assert refused.returncode != 0
    assert "refusing to deploy to prod" in refused.stderr
    # deploy.Jenkinsfile sets CONFIRM_PROD=yes only after the `input` approval stage; prod also deploys only by
    # digest, from the reports/images.json it passes as IMAGES_FILE.
    undigested = deploy(tmp_path, "prod", CONFIRM_PROD="yes")
    assert undigested.returncode != 0 and "prod deploys only by digest" in undigested.stderr
    pushed = tmp_path / "images.json"
    pushed.write_text('{"flask-api": {"repository": "r/flask-api", "tag": "1", "digest": "sha256:' + "a" * 64 + '"}}')
    approved = deploy(tmp_path, "prod", CONFIRM_PROD="yes", IMAGES_FILE=str(pushed))
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "values-prod.yaml" in approved.stdout and f"pushedImages={pushed}" in approved.stdout


def test_unknown_env_is_rejected(tmp_path: Path) -> None:
    proc = deploy(tmp_path, "staging")
    assert proc.returncode != 0
    assert "--env must be dev, prod or minikube" in proc.stderr
