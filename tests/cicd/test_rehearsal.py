"""Issue 9 items 2, 3, 8, 12: the Jenkins jobs rehearsed end to end (rehearsal.py): every sh step through `make`
with exactly the environment Jenkins gives, recording stand-ins only for docker/kubectl/helm/minikube. The checks
are on behaviour (the recorded docker/helm argv, reports/images.json, the downstream parameters), and mutations of
the Makefile and the Jenkinsfiles prove each check fails on the broken input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cicd_helpers import ROOT
from rehearsal import SECRET, Run, rehearse, workspace

VERSION = (ROOT / "VERSION").read_text().strip()
VALUES = (ROOT / "deploy/helm/container-inventory/values.yaml").read_text()
REGISTRY = re.findall(r"^imageRegistry: *(\S+)$", VALUES, re.M)[0]
OURS = ["flask-api", "nginx-proxy", "socket-proxy"]
# `<name>:` followed by nothing: the reference `flask-api:` issue 9 found runner-job building.
EMPTY_TAG = re.compile(r"[a-z0-9-]+:(\s|$|\")")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return workspace(tmp_path_factory.mktemp("checkout"))


def fresh(checkout: Path, tmp: Path) -> Path:
    """A job's own workspace: a copy of the checkout (same commit)."""
    ws = tmp / "workspace"
    shutil.copytree(checkout, ws, symlinks=True)
    (ws / ".rehearsal" / "calls.jsonl").unlink(missing_ok=True)
    for tool in ("docker", "kubectl", "helm", "minikube", "make"):
        link = ws / ".rehearsal" / "bin" / tool
        target = link.readlink()
        link.unlink()
        link.symlink_to(target)
    return ws


def tag_of(ws: Path) -> str:
    sha = subprocess.run(["git", "-C", str(ws), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    return f"{VERSION}-{sha.stdout.strip()}"


@pytest.fixture(scope="module")
def builds(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """build-flask-api and build-nginx-proxy, rehearsed once on main with their default parameters."""
    runs = {}
    for job in ("build-flask-api", "build-nginx-proxy"):
        runs[job] = rehearse(job, fresh(checkout, tmp_path_factory.mktemp(job)))
    return runs


def assert_clean(run: Run) -> None:
    assert run.failure is None, run.failure
    everything = run.output() + json.dumps([c for t in ("docker", "helm", "kubectl", "make") for c in run.calls(t)])
    assert SECRET not in everything, "the registry password leaked into a log or an argv"


@pytest.mark.parametrize(
    ("job", "images"),
    [
        ("build-flask-api", ["flask-api", "socket-proxy"]),
        ("build-nginx-proxy", ["nginx-proxy", "inventory-nginx-exporter"]),
    ],
)
def test_build_job_builds_and_pushes_an_immutable_tag_with_digests(builds, job: str, images: list[str]) -> None:
    run = builds[job]
    assert_clean(run)
    immutable = tag_of(run.workspace)
    assert run.stages[-1] == "pipeline > runner-job" and not run.skipped
    (build,) = [c for c in run.calls("make") if c["argv"][0] == "images"]
    assert build["dry"] and build["argv"][1:] == [f"IMAGES={' '.join(images)}"]
    assert f"-t $img:{VERSION} -t $img:{immutable}" in build["commands"]
    assert f"for img in {' '.join(images)}; do" in build["commands"]
    assert not EMPTY_TAG.search(build["commands"])
    pushed = [c["argv"][1] for c in run.calls("docker") if c["argv"][0] == "push"]
    assert pushed == [f"{REGISTRY}/{img}:{tag}" for img in images for tag in (immutable, VERSION)]
    recorded = json.loads((run.workspace / "reports/images.json").read_text())
    assert set(recorded) == set(images)
    for img in images:
        entry = recorded[img]
        assert set(entry) == {"repository", "tag", "digest"}
        assert entry["repository"] == f"{REGISTRY}/{img}" and entry["tag"] == immutable
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", entry["digest"])
    assert run.triggered == [("runner-job", {"IMAGE_TAG": immutable, "IMAGES": " ".join(images)})]


def test_build_of_a_branch_neither_pushes_nor_triggers(checkout: Path, tmp_path: Path) -> None:
    run = rehearse("build-flask-api", fresh(checkout, tmp_path), branch="origin/feature")
    assert_clean(run)
    assert "pipeline > ci > push" in run.skipped and "pipeline > runner-job" in run.skipped
    assert not [c for c in run.calls("docker") if c["argv"][0] == "push"] and run.triggered == []


def test_runner_job_tests_the_tag_it_was_given(builds, checkout: Path, tmp_path: Path) -> None:
    (trigger,) = builds["build-flask-api"].triggered
    run = rehearse("runner-job", fresh(checkout, tmp_path), params=trigger[1])
    assert_clean(run)
    tag = trigger[1]["IMAGE_TAG"]
    pulls = [c["argv"][-1] for c in run.calls("docker") if c["argv"][0] == "pull"]
    assert pulls == [
        f"{REGISTRY}/flask-api:{tag}",
        f"{REGISTRY}/socket-proxy:{tag}",
        f"{REGISTRY}/nginx-proxy:{VERSION}",
    ]
    local = [c["argv"][-1] for c in run.calls("docker") if c["argv"][0] == "tag"]
    assert sorted(local) == sorted(f"{img}:{tag}" for img in OURS)
    assert not [c for c in run.calls("make") if c["argv"][0] in ("images", "integration")], "runner-job rebuilt"
    (suite,) = [c for c in run.calls("make") if c["argv"][0] == "integration-suite"]
    assert f"images {tag})" in suite["commands"]
    assert f"git checkout --quiet --detach {tag.rsplit('-', 1)[1]}" in run.output(), "tests of the tag's commit"


def test_runner_job_with_its_empty_default_tag_pulls_version(checkout: Path, tmp_path: Path) -> None:
    run = rehearse("runner-job", fresh(checkout, tmp_path))
    assert run.params == {"IMAGE_TAG": "", "IMAGES": ""}, "Jenkins passes both parameters, empty"
    assert_clean(run)
    pulls = [c["argv"][-1] for c in run.calls("docker") if c["argv"][0] == "pull"]
    assert pulls == [f"{REGISTRY}/{img}:{VERSION}" for img in OURS]


# ---- mutations: each check above fails on the broken input --------------------------------------------------

OLD_MAKEFILE = ("override IMAGE_TAG  := $(or $(strip $(IMAGE_TAG)),$(VERSION))", "IMAGE_TAG ?= $(VERSION)")


def test_mutation_makefile_keeping_an_empty_image_tag_breaks_runner_job(tmp_path: Path) -> None:
    """Issue 9 item 2: `IMAGE_TAG ?= $(VERSION)` keeps Jenkins' empty string."""
    run = rehearse("runner-job", workspace(tmp_path, {"Makefile": OLD_MAKEFILE}))
    assert run.failure and "IMAGE_TAG must be set" in run.failure


def test_mutation_build_job_passing_the_mutable_tag_is_caught(checkout: Path, tmp_path: Path) -> None:
    bad = tmp_path / "build.Jenkinsfile"
    text = (ROOT / "jenkins/pipelines/build.Jenkinsfile").read_text()
    bad.write_text(text.replace("value: env.PUSHED_TAG", "value: ''"))
    run = rehearse("build-flask-api", fresh(checkout, tmp_path), path=bad)
    assert run.triggered[0][1]["IMAGE_TAG"] != tag_of(run.workspace)
    with pytest.raises(AssertionError):
        test_build_job_builds_and_pushes_an_immutable_tag_with_digests(
            {"build-flask-api": run}, "build-flask-api", ["flask-api", "socket-proxy"]
        )


def test_mirror_job_mirrors_the_chart_version_into_the_registry(checkout: Path, tmp_path: Path) -> None:
    """Issue 9 item 3: the Vault agent image the chart runs in prod is produced (mirrored) by a job, at the version
    the chart names, into the registry the chart pulls from, with its digest recorded for deploy."""
    run = rehearse("mirror-images", fresh(checkout, tmp_path))
    assert_clean(run)
    (version,) = re.findall(r"^  vault: \{tag: \"([^\"]+)\"", VALUES, re.M)
    docker = [c["argv"] for c in run.calls("docker")]
    assert ["pull", "--quiet", f"docker.io/hashicorp/vault:{version}"] in docker
    assert ["push", f"{REGISTRY}/vault:{version}"] in docker
    recorded = json.loads((run.workspace / "reports/images/vault.json").read_text())
    assert recorded["vault"]["repository"] == f"{REGISTRY}/vault" and recorded["vault"]["tag"] == version
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", recorded["vault"]["digest"])


def test_mutation_mirror_without_a_chart_version_fails(tmp_path: Path) -> None:
    edit = {"deploy/helm/container-inventory/values.yaml": ('  vault: {tag: "', '  vault: {tag: "", was: "')}
    run = rehearse("mirror-images", workspace(tmp_path, edit))
    assert run.failure and "bad mirror spec" in run.failure
