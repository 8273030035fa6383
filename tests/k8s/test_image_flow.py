"""One image flow: every image the rendered chart runs (per environment, injected Vault agent included) is produced
by a job, pushed where the chart pulls from, admitted by the admission policies, and in prod pinned by digest.

Producers are read from the Jenkins seed (build-* jobs' IMAGES) and jenkins/mirror-images.txt (mirror-images job);
where they push comes from running `make push` / `make mirror` for real in their dry-run mode; minikube's images are
the ones `minikube-up.sh` (dry run) loads into the node.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

import pytest

from tests.support.cel import load_policy

from .conftest import ENVS, ROOT, by_kind, pod_spec, render, run

SEED = ROOT / "jenkins" / "seed" / "seed.groovy"
MIRRORS = ROOT / "jenkins" / "mirror-images.txt"
TAG = (ROOT / "VERSION").read_text().strip()
IMAGE_RULES = {"allowed-registry", "mutable-image-tag"}


def producers(seed: str, mirrors: str) -> dict[str, str]:
    """image name -> the Jenkins job that builds or mirrors it and pushes it."""
    out = {}
    for job, images in re.findall(r"'(build-[a-z0-9-]+)'\s*:\s*\[[^\]]*?images:\s*'([^']+)'", seed):
        out |= {image: job for image in images.split()}
    if "'mirror-images'" in seed:
        out |= {line.split()[0]: "mirror-images" for line in mirrors.splitlines() if line.strip() and line[0] != "#"}
    return out


def _dry_make(*args: str) -> str:
    env = {
        **os.environ,
        "PUSH_DRY_RUN": "1",
        "REGISTRY_USER": "rehearsal",
        "REGISTRY_PASSWORD": "not-a-secret",  # pragma: allowlist secret
    }
    return run(["make", "-s", "-C", str(ROOT), *args, f"IMAGE_TAG={TAG}"], env=env).stdout


def pushed_refs(images: dict[str, str]) -> set[str]:
    """repository:tag of everything the jobs' `make push` / `make mirror` push (dry run: the real scripts)."""
    built = sorted(name for name, job in images.items() if job != "mirror-images")
    out = _dry_make("push", f"IMAGES={' '.join(built)}") + _dry_make("mirror")
    return set(re.findall(r"\[dry-run\] \S*docker push (\S+)", out))


def minikube_loaded() -> set[str]:
    env = {**os.environ, "PATH": "/usr/bin:/bin", "IMAGE_TAG": TAG}
    out = run(["bash", str(ROOT / "deploy" / "scripts" / "minikube-up.sh"), "--dry-run"], env=env).stdout
    return set(re.findall(r"^\+ minikube .*image load (\S+)$", out, re.M))


def pods(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods as admission sees them, with the Vault Agent injector's containers added where it injects."""
    out = []
    for doc in by_kind(docs, "Deployment") + by_kind(docs, "Pod"):
        meta = doc["metadata"] if doc["kind"] == "Pod" else doc["spec"]["template"]["metadata"]
        spec = copy.deepcopy(pod_spec(doc))
        annotations = meta.get("annotations") or {}
        if annotations.get("vault.hashicorp.com/agent-inject") == "true":
            agent = {
                **spec["containers"][0],
                "name": "vault-agent",
                "image": annotations["vault.hashicorp.com/agent-image"],
            }
            spec["containers"].append(agent)
            spec.setdefault("initContainers", []).append({**agent, "name": "vault-agent-init"})
        out.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
    return out


def image_problems(env: str, docs: list[dict[str, Any]], made: dict[str, str], pushed: set[str], loaded: set[str]):
    problems, policy = [], load_policy()
    for pod in pods(docs):
        broken = policy.violations(pod) & IMAGE_RULES
        if broken:
            problems.append(
                f"{pod['metadata'].get('labels', {}).get('app.kubernetes.io/name')}: denied by {sorted(broken)}"
            )
        for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
            ref = c["image"]
            name_tag, _, digest = ref.partition("@")
            repository, tag = name_tag.rsplit(":", 1)
            name = repository.rsplit("/", 1)[1]
            if name not in made:
                problems.append(f"{ref}: no job builds or mirrors {name}")
            if env == "minikube":
                if c.get("imagePullPolicy") == "Never" and name_tag not in loaded:
                    problems.append(f"{ref}: minikube-up.sh does not load it (imagePullPolicy Never)")
            elif f"{repository}:{tag}" not in pushed:
                problems.append(f"{ref}: pulled from {repository}:{tag}, the jobs push {sorted(pushed)}")
            if env == "prod" and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                problems.append(f"{ref}: prod image not pinned by digest")
    return sorted(set(problems))


@pytest.fixture(scope="module")
def flow():
    made = producers(SEED.read_text(), MIRRORS.read_text())
    return made, pushed_refs(made), minikube_loaded()


@pytest.mark.parametrize("env", ENVS)
def test_every_image_is_produced_pushed_where_pulled_and_admitted(env, flow):
    docs = render(env)
    assert image_problems(env, docs, *flow) == []
    refs = {c["image"].split("@")[0] for p in pods(docs) for c in p["spec"]["containers"]}
    assert any("/vault:" in r for r in refs) == (env == "prod")
    assert any("/inventory-nginx-exporter:" in r for r in refs) == (env != "minikube")


def test_flow_check_fails_when_no_job_produces_the_exporter(flow):
    seed = SEED.read_text().replace("nginx-proxy inventory-nginx-exporter", "nginx-proxy")
    made = producers(seed, MIRRORS.read_text())
    problems = image_problems("dev", render("dev"), made, flow[1], flow[2])
    assert any("no job builds or mirrors inventory-nginx-exporter" in p for p in problems)


def test_flow_check_fails_when_the_chart_pulls_from_another_registry(flow):
    problems = image_problems("dev", render("dev", "imageRegistry=docker.io/containerinventory"), *flow)
    assert any("pulled from docker.io/containerinventory/flask-api" in p for p in problems)
    assert any("denied by ['allowed-registry']" in p for p in problems)


def test_flow_check_fails_on_an_unmirrored_vault_tag(flow):
    problems = image_problems("dev", render("dev", "auth.mode=vault", "images.vault.tag=1.21.0"), *flow)
    assert any("pulled from ghcr.io/container-inventory/vault:1.21.0" in p for p in problems)


def test_flow_check_fails_on_prod_without_digests(flow):
    docs = render("dev", "requireImageDigests=false")  # prod's topology without the pushed digests
    assert any("not pinned by digest" in p for p in image_problems("prod", docs, *flow))


def test_flow_check_fails_when_minikube_loads_other_names(flow):
    moved = {ref.replace("ghcr.io/", "registry.local/") for ref in flow[2]}
    problems = image_problems("minikube", render("minikube"), flow[0], flow[1], moved)
    assert any("minikube-up.sh does not load it" in p for p in problems)
