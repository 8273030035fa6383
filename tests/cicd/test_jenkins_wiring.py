"""(2) The seed really generates the five pipelines, each pointing at an existing Jenkinsfile, and every `make`
target a Jenkinsfile calls exists and is exercised by `make test` (or is listed below with the test that runs it).
Job properties (retention, concurrency, parameters, triggers) are set in exactly one place: the seed."""

from __future__ import annotations

import re

import pytest
from cicd_helpers import JENKINSFILES, ROOT, find, make_database, probe, seed_calls, seed_jobs

EXPECTED_JOBS = {
    "build-flask-api": "build",
    "build-nginx-proxy": "build",
    "mirror-images": "mirror",
    "runner-job": "runner-job",
    "deploy": "deploy",
}
POLLED = {"build-flask-api", "build-nginx-proxy", "mirror-images"}
# Targets the Jenkinsfiles call that `make test` does not reach through prerequisites or recursive $(MAKE),
# each with the test that exercises it.
CI_EXERCISED = {
    "push": "tests/cicd/test_scan_gates.py::test_push_* run it for real (refusal) and in PUSH_DRY_RUN mode",
    "down": "tests/cicd/test_scan_gates.py::test_make_down_is_a_safe_cleanup runs it for real",
    "deploy": "tests/cicd/test_rehearsal.py runs it as deploy.Jenkinsfile does, with recording kubectl/helm",
    "images-json": "tests/cicd/test_rehearsal.py runs it as deploy.Jenkinsfile does",
    "mirror": "tests/cicd/test_rehearsal.py runs it as mirror.Jenkinsfile does, with a recording docker",
    "pull-images": "tests/cicd/test_rehearsal.py runs it as runner-job does, with a recording docker",
}


def sh_scripts(text: str) -> list[str]:
    """Bodies of every sh step: sh '...', sh '''...''', sh "..."."""
    return [m.group(2) for m in re.finditer(r"\bsh\s*\(?\s*('''|\"\"\"|'|\")(.*?)\1", text, re.S)]


def make_targets(text: str) -> set[str]:
    targets = set()
    for script in sh_scripts(text):
        for m in re.finditer(r"(?:^|[\s;&|(])make\s+([^\n;&|)]*)", script):
            for tok in m.group(1).split():
                if "=" in tok or tok.startswith("-") or "$" in tok or tok.startswith(("'", '"')):
                    continue
                targets.add(tok)
    return targets


def test_seed_generates_exactly_the_five_pipelines_in_a_folder() -> None:
    calls = seed_calls()
    folders = [f["args"][0] for f in find(calls, "folder")]
    assert folders == ["container-inventory"]
    jobs = find(calls, "pipelineJob")
    assert {j["args"][0] for j in jobs} == {f"container-inventory/{n}" for n in EXPECTED_JOBS}


@pytest.mark.parametrize("name", sorted(EXPECTED_JOBS))
def test_job_reads_an_existing_jenkinsfile_from_scm(name: str) -> None:
    job = seed_jobs()[name]
    cps = find(job, "cpsScm")
    assert len(cps) == 1, "the job must read its Jenkinsfile from SCM"
    paths = [c["args"][0] for c in find(cps[0], "scriptPath")]
    assert paths == [f"jenkins/pipelines/{EXPECTED_JOBS[name]}.Jenkinsfile"]
    assert (ROOT / paths[0]).is_file()
    assert find(cps[0], "url"), "git remote url missing"


@pytest.mark.parametrize("name", sorted(EXPECTED_JOBS))
def test_every_job_has_a_build_discarder(name: str) -> None:
    rotator = find(seed_jobs()[name], "logRotator")
    assert rotator and find(rotator[0], "numToKeep")


def test_build_jobs_poll_scm_and_others_do_not() -> None:
    for name, job in seed_jobs().items():
        polls = [c["args"][0] for c in find(job, "scmpoll_spec")]
        if name in POLLED:
            assert polls == ["H/5 * * * *"], name
        else:
            assert polls == [], name


def test_deploy_parameters() -> None:
    job = seed_jobs()["deploy"]
    choices = {c["args"][0]: c["args"][1] for c in find(job, "choiceParam")}
    assert choices == {"ENV": ["minikube", "dev", "prod"]}
    assert [s["args"][0] for s in find(job, "stringParam")] == ["IMAGE_TAG"]
    runner = seed_jobs()["runner-job"]
    assert [s["args"][0] for s in find(runner, "stringParam")] == ["IMAGE_TAG", "IMAGES"]


def test_view_lists_every_job() -> None:
    views = find(seed_calls(), "listView")
    assert [v["args"][0] for v in views] == ["container-inventory/pipelines"]
    assert set(find(views[0], "names")[0]["args"]) == set(EXPECTED_JOBS)


def test_downstream_jobs_exist() -> None:
    for jf in JENKINSFILES:
        for target in re.findall(r"\bbuild\s+job:\s*'([^']+)'", jf.read_text()):
            assert target in seed_jobs(), f"{jf.name} triggers unknown job {target}"


def test_build_jobs_trigger_runner_job() -> None:
    assert "build job: 'runner-job'" in (ROOT / "jenkins/pipelines/build.Jenkinsfile").read_text()


def test_one_build_jenkinsfile_one_job_per_image() -> None:
    """build-<image> jobs share build.Jenkinsfile and differ only by the IMAGES default the seed gives them."""
    images = {}
    for name, job in seed_jobs().items():
        if EXPECTED_JOBS[name] == "build":
            (param,) = [p["args"] for p in find(job, "stringParam") if p["args"][0] == "IMAGES"]
            images[name] = param[1].split()
            assert name.removeprefix("build-") == images[name][0], "build-<image> builds <image> first"
    assert images == {
        "build-flask-api": ["flask-api", "socket-proxy"],
        "build-nginx-proxy": ["nginx-proxy", "inventory-nginx-exporter"],
    }


def test_deploy_copies_digests_from_every_job_that_pushes() -> None:
    text = (ROOT / "jenkins/pipelines/deploy.Jenkinsfile").read_text()
    (listed,) = re.findall(r"\[('build-[^\]]+)\]\.each", text)
    copied = set(re.findall(r"'([^']+)'", listed))
    pushers = {n for n, j in seed_jobs().items() if find(j, "copyArtifactPermission")}
    assert copied == pushers == {"build-flask-api", "build-nginx-proxy", "mirror-images"}
    for name in pushers:
        (allowed,) = [c["args"] for c in find(seed_jobs()[name], "projectNames")]
        assert allowed == ["container-inventory/deploy"]


JOB_PROPERTIES = ("buildDiscarder", "logRotator", "disableConcurrentBuilds", "parameters", "triggers", "pollSCM")


@pytest.mark.parametrize("jf", JENKINSFILES, ids=lambda p: p.name)
def test_job_properties_are_set_once_by_the_seed(jf) -> None:
    """Retention, concurrency, parameters and triggers: the seed sets them; a Jenkinsfile that set them too would
    overwrite the seed's values on every run (issue 9 item 12 found two different values)."""
    called = {c["name"] for c in find(probe(jf), "pipeline")[0]["children"]} | {
        c["name"] for o in find(probe(jf), "options") for c in o["children"]
    }
    assert not called & set(JOB_PROPERTIES), f"{jf.name} sets {sorted(called & set(JOB_PROPERTIES))}"
    for name, job in seed_jobs().items():
        assert find(job, "logRotator") and find(job, "disableConcurrentBuilds"), name


def test_mutation_a_jenkinsfile_with_its_own_retention_is_caught(tmp_path) -> None:
    bad = tmp_path / "runner-job.Jenkinsfile"
    text = (ROOT / "jenkins/pipelines/runner-job.Jenkinsfile").read_text()
    bad.write_text(text.replace("timestamps()", "timestamps()\n        buildDiscarder(logRotator(numToKeepStr: '5'))"))
    with pytest.raises(AssertionError, match="buildDiscarder"):
        test_job_properties_are_set_once_by_the_seed(bad)


def test_make_target_extraction_sees_every_stage() -> None:
    """Guard for the regexes below: the known calls of the build pipeline are all found."""
    text = (ROOT / "jenkins/pipelines/build.Jenkinsfile").read_text()
    assert {"lint", "helm-lint", "unit", "images", "scan", "push", "down"} <= make_targets(text)


def reached(start: list[str]) -> set[str]:
    """Every target `make <start>` runs: prerequisites and recursive `$(MAKE) ... target` calls."""
    prereqs, recipes = make_database()
    closure: set[str] = set()
    todo = list(start)
    while todo:
        t = todo.pop()
        if t in closure:
            continue
        closure.add(t)
        todo += prereqs.get(t, [])
        for line in recipes.get(t, []):
            for m in re.finditer(r"\$\(MAKE\)((?:\s+[^\s;&|]+)+)", line):
                todo += [tok for tok in m.group(1).split() if "=" not in tok and not tok.startswith(("-", "$"))]
    return closure


def test_build_pipeline_runs_every_gate() -> None:
    """The build pipeline reaches every make target that runs a gate (the config scanners, the posture gate
    `inventory-scan` of issue 10 wherever it is wired): a gate CI runs but Jenkins skips would let a build ship."""
    _, recipes = make_database()
    build = reached(sorted(make_targets((ROOT / "jenkins/pipelines/build.Jenkinsfile").read_text())))
    assert {"scan-config", "scan-images"} <= build
    gates = {t for t, lines in recipes.items() if any("inventory-scan" in ln or "scan/scan.py" in ln for ln in lines)}
    assert gates, "no gate target found: the recipe scan is broken"
    assert gates <= build, f"gates the build pipeline never runs: {sorted(gates - build)}"


@pytest.mark.parametrize("jf", JENKINSFILES, ids=lambda p: p.name)
def test_every_make_target_exists_and_is_exercised(jf) -> None:
    prereqs, recipes = make_database()
    closure: set[str] = set()
    todo = ["test"]
    while todo:
        t = todo.pop()
        if t in closure:
            continue
        closure.add(t)
        todo += prereqs.get(t, [])
        # Recursive `$(MAKE) ... target` in a recipe counts as exercised too (e.g. scan-ci -> scan).
        for line in recipes.get(t, []):
            for m in re.finditer(r"\$\(MAKE\)((?:\s+[^\s;&|]+)+)", line):
                todo += [tok for tok in m.group(1).split() if "=" not in tok and not tok.startswith(("-", "$"))]
    used = make_targets(jf.read_text())
    assert used, f"{jf.name} calls no make target"
    for target in sorted(used):
        assert target in prereqs, f"{jf.name}: `make {target}` does not exist"
        assert target in closure or target in CI_EXERCISED, f"{jf.name}: `make {target}` is not run by make test"
