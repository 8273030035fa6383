"""Issue 17 item 3: the kubeconfig step of jenkins/README.md, run as written with the real kubectl against a
kubeconfig holding the contexts our scripts create, must give each ENV a kubeconfig whose only context is the one
`make deploy ENV=...` uses: for minikube the context deploy.sh selects, which is the profile minikube-up.sh starts
(minikube names the context after the profile); for dev and prod the file's current context (deploy.sh uses it)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from cicd_helpers import JENKINS, ROOT

README = JENKINS / "README.md"
KUBECTL = ROOT / ".venv" / "k8s" / "bin" / "kubectl"
ENVS = ("minikube", "dev", "prod")


def kubeconfig_block(text: str) -> str:
    """The README's bash block that writes jenkins/secrets/kubeconfig-<env>."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    (block,) = [b for b in blocks if "kubeconfig-" in b and "kubectl config view" in b]
    return block


def dry_run(*argv: str) -> str:
    proc = subprocess.run(["bash", *argv, "--dry-run"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def minikube_context() -> str:
    """The context our scripts use for minikube: the profile minikube-up.sh starts, which deploy.sh selects."""
    (profile,) = re.findall(r"minikube start --profile (\S+)", dry_run("deploy/scripts/minikube-up.sh"))
    selected = set(re.findall(r"kubectl --context (\S+)", dry_run("deploy/scripts/deploy.sh", "--env", "minikube")))
    assert selected == {profile}, f"deploy.sh --env minikube uses {selected}, minikube-up.sh starts {profile}"
    return profile


def kubeconfig(contexts: list[str]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": f"c-{c}", "cluster": {"server": f"https://127.0.0.1:{6443 + i}"}}
                for i, c in enumerate(contexts)
            ],
            "users": [{"name": f"u-{c}", "user": {"token": f"token-{c}"}} for c in contexts],
            "contexts": [{"name": c, "context": {"cluster": f"c-{c}", "user": f"u-{c}"}} for c in contexts],
            "current-context": contexts[-1],
        }
    )


def run_documented(block: str, tmp: Path, contexts: list[str]) -> subprocess.CompletedProcess[str]:
    """The block as a user runs it (minus `sudo`), in an empty directory, with the real kubectl and a kubeconfig
    that holds `contexts`."""
    if not KUBECTL.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{KUBECTL} missing (make k8s-tools)")
        pytest.skip("kubectl not installed (make k8s-tools)")
    (tmp / "home").mkdir()
    (tmp / "home" / "config").write_text(kubeconfig(contexts))
    script = "\n".join(ln for ln in block.splitlines() if not ln.lstrip().startswith("sudo "))
    env = {"PATH": f"{KUBECTL.parent}:/usr/bin:/bin", "HOME": str(tmp / "home"), "KUBECONFIG": str(tmp / "home/config")}
    return subprocess.run(["bash", "-euc", script], cwd=tmp, env=env, capture_output=True, text=True, timeout=120)


def documented_contexts(block: str) -> dict[str, str]:
    """The dev/prod context names the block's placeholders give (`DEV_CONTEXT=...`), for the test kubeconfig."""
    return dict(re.findall(r"\b([A-Z]+_CONTEXT)=(\S+)", block))


def kubeconfig_problems(tmp: Path, block: str) -> list[str]:
    placeholders = documented_contexts(block)
    proc = run_documented(block, tmp, [minikube_context(), *placeholders.values(), "someone-elses-cluster"])
    if proc.returncode != 0:
        return [f"the documented commands fail: {proc.stderr.strip()[-500:]}"]
    problems = []
    for env in ENVS:
        written = tmp / "jenkins" / "secrets" / f"kubeconfig-{env}"
        config = yaml.safe_load(written.read_text()) if written.exists() else None
        if not config:
            problems.append(f"kubeconfig-{env} was not written")
            continue
        names = [c["name"] for c in config.get("contexts") or []]
        if len(names) != 1 or config.get("current-context") != names[0]:
            problems.append(f"kubeconfig-{env}: contexts {names}, current {config.get('current-context')!r}")
        elif env == "minikube" and names[0] != minikube_context():
            problems.append(
                f"kubeconfig-minikube holds {names[0]!r}; make deploy ENV=minikube uses {minikube_context()!r}"
            )
        elif env != "minikube" and names[0] == minikube_context():
            problems.append(f"kubeconfig-{env} holds the minikube context")
        embedded = yaml.safe_dump(config)
        if "certificate-authority:" in embedded or "client-certificate:" in embedded:
            problems.append(f"kubeconfig-{env} points at files (not flattened)")
    return problems


def test_documented_kubeconfigs_hold_the_contexts_deploy_uses(tmp_path: Path) -> None:
    assert kubeconfig_problems(tmp_path, kubeconfig_block(README.read_text())) == []


def test_mutation_the_old_context_loop_is_caught(tmp_path: Path) -> None:
    """The old loop (`--context "$env"` for minikube, dev and prod): there is no context named minikube."""
    old = """for env in minikube dev prod; do   # your context names; each file holds exactly one context
  kubectl config view --flatten --minify --context "$env" > "jenkins/secrets/kubeconfig-$env"
done
"""
    problems = kubeconfig_problems(tmp_path, "mkdir -p jenkins/secrets\n" + old)
    assert problems and "the documented commands fail" in problems[0] and "context minikube" in problems[0], problems
