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
from rehearsal import SECRET, Run, rehearse
from rehearsal_workspace import use_cluster_world, workspace

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
    assert run.triggered == [("runner-job", {"IMAGE_TAG": immutable, "IMAGES": " ".join(images)})], (
        f"runner-job must be triggered with the immutable tag the build pushed ({immutable}): {run.triggered}"
    )


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
    with pytest.raises(AssertionError, match="runner-job must be triggered with the immutable tag the build pushed"):
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


# ---- deploy: what the build and mirror jobs pushed, by digest, into a modelled cluster ------------------------


@pytest.fixture(scope="module")
def pushers(builds, checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Workspaces of the last successful build of every job whose digest records deploy copies."""
    mirror = rehearse("mirror-images", fresh(checkout, tmp_path_factory.mktemp("mirror")))
    assert_clean(mirror)
    for run in builds.values():
        assert_clean(run)
    return {"mirror-images": mirror.workspace, **{job: run.workspace for job, run in builds.items()}}


def registry_holds(workspaces: list[Path]) -> list[str]:
    """Every reference a registry serves after the recorded pushes: repo:tag, repo@digest, repo:tag@digest."""
    refs = []
    for ws in workspaces:
        for record in (ws / "reports/images").glob("*.json"):
            for entry in json.loads(record.read_text()).values():
                repo, digest = entry["repository"], entry["digest"]
                for tag in {entry["tag"], VERSION}:
                    refs += [f"{repo}:{tag}", f"{repo}:{tag}@{digest}"]
                refs.append(f"{repo}@{digest}")
    return refs


def cluster(context: str, registry: list[str]) -> dict:
    """A shared cluster as docs/KUBERNETES.md expects it before the first deploy: operators installed by the
    platform team, the release namespace and its API token Secret; its registry holds exactly what was pushed."""
    from tests.k8s.rehearsal.state import new_cluster, new_world

    world = new_world()
    c = new_cluster(
        ["default", "kube-system", "kube-public", "kube-node-lease", "ingress-nginx", "monitoring"], platform=True
    )
    c["namespaces"]["container-inventory"] = {}
    # prod's Vault (docs/KUBERNETES.md): the injector installed, its CA in the release namespace (auth.vault.caSecret)
    c["secrets"] = {"container-inventory/inventory-api-token": ["token"], "container-inventory/vault-ca": ["ca.crt"]}
    c["webhooks"] = ["vault-agent-injector-cfg"]
    for ns, name, chart in (("keda", "keda", "keda"), ("monitoring", "kps", "kube-prometheus-stack")):
        c["namespaces"].setdefault(ns, {})
        c["releases"][f"{ns}/{name}"] = {"chart_name": chart, "revision": 1}
    c["namespaces"].setdefault("kyverno", {})
    c["releases"]["kyverno/kyverno"] = {"chart_name": "kyverno", "revision": 1}
    c["registry"] = registry
    world["contexts"][context] = c
    world["current_context"] = context
    return world


# Who starts a prod deploy and who approves it: two release managers (users of casc.yaml's realm).
STARTER, APPROVER = "release-manager-1", "release-manager-2"


def deploy(
    pushers: dict[str, Path],
    checkout: Path,
    tmp: Path,
    env: str,
    path: Path | None = None,
    approver: str | None = APPROVER,
    started_by: str = STARTER,
) -> Run:
    """A deploy of `env`; an input it asks is answered by `approver` (None: nobody is there to answer)."""
    ws = fresh(checkout, tmp)
    use_cluster_world(ws, cluster(env, registry_holds(list(pushers.values()))))
    return rehearse(
        "deploy", ws, params={"ENV": env}, artifacts=pushers, path=path, started_by=started_by, approver=approver
    )


def our_release(run: Run) -> dict:
    ups = [c for c in run.calls("helm") if "upgrade" in c["argv"] and c.get("rc") == 0 and "release" in c]
    ours = [c["release"] for c in ups if c["release"]["chart"].endswith("deploy/helm/container-inventory")]
    assert len(ours) == 1, [c["argv"] for c in run.calls("helm")]
    return ours[0]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deploy_job_runs_what_the_jobs_pushed(pushers, checkout: Path, tmp_path: Path, env: str) -> None:
    """Issue 9 items 2, 3, 8: deploy with Jenkins' defaults (IMAGE_TAG empty) installs the images the build and
    mirror jobs pushed, from the registry the chart pulls from (the modelled registry holds nothing else); prod by
    digest, after the approval of a second person. Nobody answers inputs of a dev deploy: it must ask none."""
    run = deploy(pushers, checkout, tmp_path, env, approver=APPROVER if env == "prod" else None)
    assert run.params == {"ENV": env, "IMAGE_TAG": ""}
    assert_clean(run)
    assert run.asked == run.approvals == (["pipeline > approval"] if env == "prod" else []), run.asked
    (make_deploy,) = [c for c in run.calls("make") if c["argv"][0] == "deploy"]
    assert "IMAGES_FILE=reports/images.json" in make_deploy["argv"]
    recorded = json.loads((run.workspace / "reports/images.json").read_text())
    assert set(recorded) == {"flask-api", "socket-proxy", "nginx-proxy", "inventory-nginx-exporter", "vault"}
    images = [i["image"] for i in our_release(run)["images"] if not i["hook"]]
    assert images, "the release runs no image"
    for image in images:
        ref, _, digest = image.partition("@")
        name = ref.rsplit("/", 1)[1].split(":")[0]
        assert ref.startswith(f"{REGISTRY}/{name}"), image
        if env == "prod":
            assert digest == recorded[name]["digest"], f"prod must run {name} by the pushed digest: {image}"


def test_mutation_deploy_without_the_images_file_is_refused_in_prod(pushers, checkout: Path, tmp_path: Path) -> None:
    bad = tmp_path / "deploy.Jenkinsfile"
    text = (ROOT / "jenkins/pipelines/deploy.Jenkinsfile").read_text()
    bad.write_text(text.replace(" IMAGES_FILE=reports/images.json'", "'"))
    run = deploy(pushers, checkout, tmp_path, "prod", path=bad)
    assert run.failure and "digest" in run.failure


def test_mutation_deploy_without_the_confirmation_is_refused_in_prod(pushers, checkout: Path, tmp_path: Path) -> None:
    bad = tmp_path / "deploy.Jenkinsfile"
    text = (ROOT / "jenkins/pipelines/deploy.Jenkinsfile").read_text()
    bad.write_text(text.replace("params.ENV == 'prod' ? 'yes' : ''", "''"))
    run = deploy(pushers, checkout, tmp_path, "prod", path=bad)
    assert run.failure and "confirm" in run.failure.lower()
    assert not [c for c in run.calls("helm") if "upgrade" in c["argv"]]


def test_mutation_pushing_elsewhere_than_the_chart_pulls_from_fails_the_deploy(
    builds, checkout: Path, tmp_path: Path
) -> None:
    """Issue 9 item 3: images pushed to one registry, pulled from another. The push registry of this mutant is not
    the chart's: the deploy of what it pushed must fail (nothing the chart pulls exists)."""
    anchor = "override PUSH_REGISTRY := $(shell"
    edit = {"mk/cicd.mk": (anchor, anchor.replace("$(shell", "docker.io/elsewhere#$(shell"))}
    elsewhere = rehearse("build-flask-api", workspace(tmp_path / "b", edit))
    assert_clean(elsewhere)
    pushers = {"build-flask-api": elsewhere.workspace, "build-nginx-proxy": builds["build-nginx-proxy"].workspace}
    mirror = rehearse("mirror-images", workspace(tmp_path / "m"))
    pushers["mirror-images"] = mirror.workspace
    run = deploy(pushers, checkout, tmp_path / "d", "dev")
    assert run.failure, "a deploy of images the chart's registry does not hold must fail"


# ---- the prod approval: asked only for prod, answered by a second person ---------------------------------------


def upgrades(run: Run) -> list[dict]:
    return [c for c in run.calls("helm") if "upgrade" in c["argv"]]


def test_prod_deploy_waits_for_an_approval_nobody_gives(pushers, checkout: Path, tmp_path: Path) -> None:
    run = deploy(pushers, checkout, tmp_path, "prod", approver=None)
    assert run.asked == ["pipeline > approval"] and run.approvals == []
    assert run.failure and "was not answered" in run.failure
    assert "pipeline > deploy" in run.skipped and not upgrades(run)


@pytest.mark.parametrize("who", [STARTER, "admin"])
def test_prod_deploy_approved_by_whoever_started_it_is_refused(
    pushers, checkout: Path, tmp_path: Path, who: str
) -> None:
    """Four eyes: Jenkins lets the starter approve when they are on the submitter list, and always lets an
    administrator approve; the pipeline refuses both when the approver started the deploy."""
    run = deploy(pushers, checkout, tmp_path, "prod", approver=who, started_by=who)
    assert run.approvals == ["pipeline > approval"], "the realm lets them answer: the pipeline must refuse"
    assert run.failure and "cannot also approve" in run.failure
    assert "pipeline > deploy" in run.skipped and not upgrades(run)


def test_prod_approval_by_a_user_off_the_submitter_list_is_not_accepted(
    pushers, checkout: Path, tmp_path: Path
) -> None:
    edit = {"jenkins/casc.yaml": ('        - id: "release-manager-2"\n', '        - id: "developer-1"\n')}
    ws = workspace(tmp_path / "w", edit)
    use_cluster_world(ws, cluster("prod", registry_holds(list(pushers.values()))))
    run = rehearse("deploy", ws, params={"ENV": "prod"}, artifacts=pushers, approver="developer-1")
    assert run.failure and "developer-1 may not answer" in run.failure and not upgrades(run)


def test_mutation_approval_without_before_input_stops_every_dev_deploy(pushers, checkout: Path, tmp_path: Path) -> None:
    """Issue 17 item 1: without `beforeInput true` Declarative asks the input before it evaluates `when`, so a dev
    deploy waits for "Deploy to prod?" and times out. The same Jenkinsfile with `beforeAgent true` (which does not
    move `when` before the input) does too."""
    text = (ROOT / "jenkins/pipelines/deploy.Jenkinsfile").read_text()
    for replacement in ("", "                beforeAgent true\n"):
        bad = tmp_path / f"deploy-{len(replacement)}.Jenkinsfile"
        bad.write_text(text.replace("                beforeInput true\n", replacement))
        assert bad.read_text() != text
        run = deploy(pushers, checkout, tmp_path / bad.stem, "dev", path=bad, approver=None)
        assert run.asked == ["pipeline > approval"], run.asked
        assert run.failure and "was not answered" in run.failure and not upgrades(run)


def test_mutation_submitter_naming_a_group_the_realm_lacks_leaves_only_admins(
    pushers, checkout: Path, tmp_path: Path
) -> None:
    """Issue 17 item 2: `submitter 'release-managers'` names a group; the local realm has none, so a release
    manager cannot approve (only an administrator could)."""
    bad = tmp_path / "deploy.Jenkinsfile"
    text = (ROOT / "jenkins/pipelines/deploy.Jenkinsfile").read_text()
    bad.write_text(text.replace("submitter 'release-manager-1,release-manager-2'", "submitter 'release-managers'"))
    run = deploy(pushers, checkout, tmp_path / "w", "prod", path=bad)
    assert run.failure and f"{APPROVER} may not answer" in run.failure and not upgrades(run)
