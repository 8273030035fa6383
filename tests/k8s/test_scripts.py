"""Deploy scripts: shellcheck, one shell library and one pin file, dry runs print every command and run none,
arguments fail with one clear line (an empty value never swallows the next flag), prod needs confirmation and
digests. What the commands do on a cluster is rehearsed in test_rehearsal.py."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from tests.support.prereq import tool

from .conftest import CHART, ROOT, run

SCRIPTS = ROOT / "deploy" / "scripts"
ALL_SCRIPTS = sorted([*SCRIPTS.glob("*.sh"), *(ROOT / "deploy" / "monitoring" / "scripts").glob("*.sh")])
PINS = dict(
    line.split("=", 1)
    for line in (ROOT / "deploy" / "versions.env").read_text().splitlines()
    if re.match(r"^[A-Z_]+=", line)
)
VERSION = (ROOT / "VERSION").read_text().strip()


def _dry(script: str, *args: str) -> str:
    # A PATH without helm/kubectl/minikube proves a dry run needs (and runs) none of them.
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    env.pop("IMAGE_TAG", None)
    proc = run(["bash", str(SCRIPTS / script), *args], env=env)
    return proc.stdout


def _commands(out: str) -> list[str]:
    return [line[2:] for line in out.splitlines() if line.startswith("+ ")]


def _images_file(path: Path) -> Path:
    registry = yaml.safe_load((CHART / "values.yaml").read_text())["imageRegistry"]
    names = yaml.safe_load((CHART / "values.yaml").read_text())["images"]
    doc = {n: {"repository": f"{registry}/{n}", "tag": VERSION, "digest": "sha256:" + "a" * 64} for n in names}
    path.write_text(json.dumps(doc))
    return path


def test_shellcheck_clean():
    run([tool("shellcheck"), "-x", *map(str, ALL_SCRIPTS)])


def test_one_shell_library_and_one_pin_file():
    libs = sorted(p.relative_to(ROOT) for p in (ROOT / "deploy").rglob("*.sh") if p.name == "lib.sh")
    assert libs == [Path("deploy/scripts/lib.sh")], libs
    for script in ALL_SCRIPTS:
        if script.name == "lib.sh":
            continue
        text = script.read_text()
        assert "scripts/lib.sh" in text or 'dirname "${BASH_SOURCE[0]}")/lib.sh' in text, script
        # No chart version written in a script: every pin is a variable from deploy/versions.env.
        assert not re.search(r"--version [\"']?\d", text), script
        assert not re.search(r"^\s*[A-Z_]+_VERSION=[\"']?\d", text, re.M), script
    assert {"KEDA_CHART_VERSION", "KYVERNO_CHART_VERSION", "KUBE_PROMETHEUS_STACK_VERSION"} <= set(PINS)
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in PINS.values()), PINS
    assert not (ROOT / "deploy" / "monitoring" / "versions.env").exists()


def test_app_deploy_leaves_cluster_wide_operators_alone_by_default():
    commands = _commands(_dry("deploy.sh", "--env", "dev", "--dry-run"))
    assert not [c for c in commands if re.search(r"upgrade --install (keda|kps|kyverno) ", c)], commands
    install = next(c for c in commands if c.startswith("helm upgrade --install inventory "))
    assert "values-dev.yaml" in install and "--atomic" in install and "--wait" in install
    assert f"--set imageTag={VERSION} " in install


@pytest.mark.parametrize("env_name", ["dev", "minikube"])
def test_platform_dry_run_prints_every_step_with_pins(env_name):
    out = _dry("deploy.sh", "--env", env_name, "--dry-run", "--platform")
    commands = _commands(out)
    upgrades = [c for c in commands if " upgrade --install " in c]
    charts = [re.search(r"upgrade --install (\S+) (\S+)", c).groups() for c in upgrades]
    assert charts[:3] == [
        ("keda", "kedacore/keda"),
        ("kps", "prometheus-community/kube-prometheus-stack"),
        ("kyverno", "kyverno/kyverno"),
    ], charts
    assert f"--version {PINS['KEDA_CHART_VERSION']} " in upgrades[0]
    assert f"--version {PINS['KUBE_PROMETHEUS_STACK_VERSION']} " in upgrades[1]
    assert f"--version {PINS['KYVERNO_CHART_VERSION']} " in upgrades[2]
    assert "values-kube-prometheus-stack.yaml" in upgrades[1]
    assert ("values-kube-prometheus-stack-minikube.yaml" in upgrades[1]) == (env_name == "minikube")
    assert any("apply -f" in c and "validating-admission-policy.yaml" in c for c in commands)
    assert charts[3][0] == "inventory" and f"values-{env_name}.yaml" in upgrades[3]
    assert any(re.match(r"helm( --kube-context \S+)? test inventory", c) for c in commands)


def test_prod_refuses_without_confirmation_then_without_digests(tmp_path):
    proc = run(["bash", str(SCRIPTS / "deploy.sh"), "--env", "prod", "--dry-run"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: refusing to deploy to prod without --confirm-prod (make deploy ENV=prod CONFIRM_PROD=yes)"
    )
    assert "+ " not in proc.stdout
    proc = run(["bash", str(SCRIPTS / "deploy.sh"), "--env", "prod", "--dry-run", "--confirm-prod"], check=False)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith(
        "error: prod deploys only by digest: pass --images-file reports/images.json"
    )
    assert "+ " not in proc.stdout
    pushed = _images_file(tmp_path / "images.json")
    out = _dry("deploy.sh", "--env", "prod", "--dry-run", "--confirm-prod", "--images-file", str(pushed))
    install = next(c for c in _commands(out) if c.startswith("helm upgrade --install inventory "))
    assert "values-prod.yaml" in install and f"--set-file pushedImages={pushed}" in install


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "error: --env is required (dev, prod or minikube)"),
        (("--env", "staging"), "error: --env must be dev, prod or minikube, not 'staging'"),
        (("--env", "dev", "--bogus"), "error: unknown argument: --bogus (see --help)"),
        (("--env",), "error: --env needs a value"),
        (
            ("--env", "prod", "--image-tag", "--confirm-prod"),
            "error: --image-tag needs a value, got the flag '--confirm-prod' (an empty variable?)",
        ),
        (
            ("--env", "dev", "--image-tag", "a b"),
            "error: invalid image tag 'a b' (letters, digits, _ . -, at most 128, not starting with . or -)",
        ),
        (("--env", "dev", "--namespace", "Bad_NS"), "error: invalid namespace name: 'Bad_NS'"),
        (("--env", "dev", "--images-file", "/nonexistent.json"), "error: images file not readable: /nonexistent.json"),
        (("--env", "dev", "--values", "/nonexistent.yaml"), "error: values file not readable: /nonexistent.yaml"),
        (
            ("--env", "dev", "--values", "--cilium"),
            "error: --values needs a value, got the flag '--cilium' (an empty variable?)",
        ),
        (
            ("--env", "dev", "--api-server-cidrs", "10.0.0.0/28,kubernetes"),
            "error: --api-server-cidrs: 'kubernetes' is not a CIDR (e.g. 10.0.0.0/28,10.96.0.1/32), nor 'values'",
        ),
    ],
)
def test_bad_arguments_fail_with_one_clear_line(args, message):
    proc = run(["bash", str(SCRIPTS / "deploy.sh"), "--dry-run", *args], check=False)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == message, proc.stderr
    assert "+ " not in proc.stdout


@pytest.mark.parametrize("tag_args", [("--image-tag", ""), ("--image-tag=",), ()])
def test_empty_or_missing_image_tag_falls_back_to_version(tag_args):
    proc = run(
        ["bash", str(SCRIPTS / "deploy.sh"), "--env", "dev", *tag_args, "--dry-run"],
        env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    assert f"deploying tag {VERSION} from the VERSION file" in proc.stderr
    install = next(c for c in _commands(proc.stdout) if c.startswith("helm upgrade --install inventory "))
    assert f"--set imageTag={VERSION} " in install


def test_minikube_up_dry_run():
    out = _dry("minikube-up.sh", "--dry-run")
    size = yaml.safe_load((CHART / "values-minikube.yaml").read_text())["minikube"]
    (start,) = [c for c in _commands(out) if c.startswith("minikube start")]
    assert "--profile container-inventory --kubernetes-version v1.33" in start
    assert f"--cpus {size['cpus']} --memory {size['memory']}" in start
    assert "--cni calico" in start  # NetworkPolicies need an enforcing CNI
    registry = yaml.safe_load((CHART / "values.yaml").read_text())["imageRegistry"]
    for image in ("flask-api", "nginx-proxy"):
        assert f"+ minikube --profile container-inventory image load {registry}/{image}:{VERSION}" in out
    assert "+ helm --kube-context container-inventory test inventory" in out


def test_make_targets_dry_run():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k not in ("IMAGE_TAG", "ENV")}
    out = run(["make", "-s", "-C", str(ROOT), "deploy-dry-run", "ENV=dev"], env=env).stdout
    assert "+ helm upgrade --install inventory" in out
    proc = run(["make", "-s", "-C", str(ROOT), "deploy", "ENV=prod"], check=False, env=env)
    assert proc.returncode != 0 and "refusing to deploy to prod" in proc.stdout + proc.stderr
