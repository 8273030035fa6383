"""Issue 17 item 4: where builds run and what they can reach, on the real casc.yaml, compose.yaml and Jenkinsfiles.

The rules: the Docker socket is root on its host, so (1) no build runs on the controller or can reach the
controller's host through a Docker socket (the controller runs no executors, its container mounts no socket and
no agent is defined next to it), and (2) the credentials of shared clusters (kubeconfig-dev, kubeconfig-prod) are
only bound on nodes where no build stage can use Docker (a build there could read the bound kubeconfig)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cicd_helpers import JENKINS, JENKINSFILES, find, make_database, probe
from rehearsal import _evaluate

CASC = yaml.safe_load((JENKINS / "casc.yaml").read_text())
COMPOSE = yaml.safe_load((JENKINS / "compose.yaml").read_text())
SHARED = ("dev", "prod")  # clusters other people use; minikube is the agent host's own
DOCKER_CALL = re.compile(r"\$\(DOCKER\)|(^|[;&|(]\s*)docker\s")


def node_labels(casc: dict[str, Any]) -> dict[str, set[str]]:
    out = {}
    for entry in casc["jenkins"].get("nodes", []):
        ((_, body),) = entry.items()
        out[body["name"]] = {body["name"], *str(body.get("labelString", "")).split()}
    return out


def _own_label(block: dict[str, Any]) -> str | None:
    for agent in (c for c in block["children"] if c["name"] == "agent"):
        labels = [c["args"][0] for c in agent["children"] if c["name"] == "label"]
        return labels[0] if labels else None
    return None


def placed_stages(tree: dict[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    """Every stage with the label it runs under: its own agent's, else the enclosing stage's or pipeline's."""
    out = []

    def walk(block: dict[str, Any], inherited: str | None) -> None:
        for stages in (c for c in block["children"] if c["name"] == "stages"):
            for stage in stages["children"]:
                label = _own_label(stage) or inherited
                out.append((stage, label))
                walk(stage, label)

    for pipeline in (c for c in tree["children"] if c["name"] == "pipeline"):
        walk(pipeline, _own_label(pipeline))
    return out


def make_targets(stage: dict[str, Any]) -> set[str]:
    words = set()
    for sh in find(stage, "sh"):
        arg = sh["args"][0]
        script = arg["script"] if isinstance(arg, dict) else arg
        for m in re.finditer(r"\bmake ([^'\"\n]*)", script):
            words |= {w for w in m[1].split() if "=" not in w and not w.startswith("-")}
    return words


def docker_targets() -> set[str]:
    """Make targets whose recipe, or a prerequisite's, runs docker (GNU make's own database)."""
    prereqs, recipes = make_database()
    direct = {t for t, lines in recipes.items() if any(DOCKER_CALL.search(ln) for ln in lines)}

    def uses(target: str, seen: set[str]) -> bool:
        if target in direct:
            return True
        seen.add(target)
        return any(uses(p, seen) for p in prereqs.get(target, []) if p not in seen)

    return {t for t in prereqs if uses(t, set())}


def docker_nodes(casc: dict[str, Any], trees: list[dict[str, Any]]) -> set[str]:
    """Nodes that run a stage using Docker: every node carrying the label of such a stage."""
    needs_docker = docker_targets()
    labels = {label for t in trees for s, label in placed_stages(t) if make_targets(s) & needs_docker}
    assert labels and None not in labels, f"docker stages must name a label: {labels}"
    return {node for node, carried in node_labels(casc).items() if carried & labels}


def credential_nodes(casc: dict[str, Any], tree: dict[str, Any], credential: str) -> set[str]:
    """Nodes on which a stage of `tree` binds `credential`."""
    out = set()
    for stage, label in placed_stages(tree):
        ids = {c["args"][0].get("credentialsId") for c in find(stage, "file") if c["args"]}
        if credential in ids:
            assert label, f"stage {stage['args'][0]} binds {credential} without an agent"
            out |= {node for node, carried in node_labels(casc).items() if label in carried}
    return out


def deploy_tree(tmp: Path, env: str, jenkinsfile: Path | None = None) -> dict[str, Any]:
    path = jenkinsfile or JENKINS / "pipelines" / "deploy.Jenkinsfile"
    context = {"params": {"ENV": env, "IMAGE_TAG": ""}, "env": {}, "returns": {}}
    return _evaluate(path, context, tmp)["tree"]


def exposure(casc: dict[str, Any], tmp: Path, jenkinsfile: Path | None = None) -> dict[str, set[str]]:
    """Per shared cluster: the nodes that both run Docker builds and get that cluster's kubeconfig."""
    trees = list(probe_all().values())
    docker = docker_nodes(casc, trees)
    out = {}
    for env in SHARED:
        bound = credential_nodes(casc, deploy_tree(tmp, env, jenkinsfile), f"kubeconfig-{env}")
        assert bound, f"no stage binds kubeconfig-{env} for ENV={env}: the check is looking at the wrong tree"
        out[env] = bound & docker
    return out


def probe_all() -> dict[str, dict[str, Any]]:
    return {jf.name: probe(jf) for jf in JENKINSFILES}


def test_the_controller_runs_no_build_and_mounts_no_docker_socket() -> None:
    assert CASC["jenkins"]["numExecutors"] == 0, "builds on the controller would run inside its container"
    (controller,) = COMPOSE["services"].values()  # the controller only: agents run on hosts of their own
    assert "jenkins" in str(controller.get("image", "")), controller
    for volume in controller.get("volumes", []):
        source = str(volume).split(":", 1)[0]
        assert "docker.sock" not in source and not source.startswith("/var/run"), f"controller mounts {volume}"
    assert not controller.get("privileged") and "docker" not in map(str, controller.get("group_add", []))


def test_shared_cluster_kubeconfigs_are_bound_only_where_builds_cannot_use_docker(tmp_path: Path) -> None:
    assert docker_nodes(CASC, list(probe_all().values())), "the build stages run somewhere with Docker"
    assert exposure(CASC, tmp_path) == {env: set() for env in SHARED}


@pytest.mark.parametrize("edit", ["deploy-on-the-docker-agent", "one-agent-with-both-labels"])
def test_mutation_kubeconfig_reachable_from_docker_builds_is_caught(tmp_path: Path, edit: str) -> None:
    """The old layout (deploy on inventory-docker) and a node that carries both labels both expose prod."""
    casc, jenkinsfile = CASC, None
    if edit == "deploy-on-the-docker-agent":
        text = (JENKINS / "pipelines" / "deploy.Jenkinsfile").read_text()
        jenkinsfile = tmp_path / "deploy.Jenkinsfile"
        jenkinsfile.write_text(text.replace(": 'inventory-deploy'", ": 'inventory-docker'"))
        assert jenkinsfile.read_text() != text
    else:
        casc = yaml.safe_load((JENKINS / "casc.yaml").read_text())
        for entry in casc["jenkins"]["nodes"]:
            if entry["permanent"]["labelString"] == "inventory-docker":
                entry["permanent"]["labelString"] += " inventory-deploy"
    found = exposure(casc, tmp_path, jenkinsfile)
    assert found["prod"] == {"docker-agent-1"}, found
