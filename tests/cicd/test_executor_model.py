"""Issue 9 item 1: no Jenkins build can wait for an executor or a downstream job that can never come.

The executor/label model (executor_model.py) replays every job the seed creates, with its real Jenkinsfile, against
the agents of casc.yaml, over every interleaving of the queue. Mutations prove it fails on the layouts that hang."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from cicd_helpers import JENKINS, ROOT, find, probe, seed_jobs
from executor_model import Job, explore, nodes_from_casc, pipeline_ops

CASC = yaml.safe_load((JENKINS / "casc.yaml").read_text())


def jobs_from_seed(overrides: dict[str, Path] | None = None) -> dict[str, Job]:
    """Every generated job with the ops of its Jenkinsfile; concurrency as the seed configures it."""
    jobs = {}
    for name, job in seed_jobs().items():
        (path,) = [c["args"][0] for c in find(job, "scriptPath")]
        jenkinsfile = (overrides or {}).get(name, ROOT / path)
        concurrent = not find(job, "disableConcurrentBuilds")
        jobs[name] = Job(name, pipeline_ops(probe(Path(jenkinsfile))), concurrent=concurrent)
    return jobs


def mutated(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = (JENKINS / "pipelines" / name).read_text()
    for old, new in edits:
        assert old in text, f"mutation anchor {old!r} not in {name}"
        text = text.replace(old, new, 1)
    out = tmp_path / name
    out.write_text(text)
    return out


# The layout issue 9 found: one pipeline-level agent for the whole build, runner-job triggered from inside it.
OLD_LAYOUT = (
    ("    agent none\n", "    agent { label 'inventory-docker' }\n"),
    ("            agent { label 'inventory-docker' }\n", ""),
)


def build_overrides(path: Path) -> dict[str, Path]:
    return {n: path for n, job in seed_jobs().items() if find(job, "scriptPath")[0]["args"][0].endswith(path.name)}


def test_the_model_sees_every_job_and_its_downstream_calls() -> None:
    jobs = jobs_from_seed()
    assert set(jobs) == set(seed_jobs())
    downstream = {op.job for job in jobs.values() for op in job.ops if op.kind == "build"}
    assert downstream == {"runner-job"}, "the build jobs trigger runner-job"
    for job in jobs.values():
        takes = [op for op in job.ops if op.kind == "acquire"]
        assert takes and len(takes) == len([op for op in job.ops if op.kind == "release"]), job.name


def test_no_wait_can_hang_with_every_job_started_at_once() -> None:
    result = explore(jobs_from_seed(), nodes_from_casc(CASC), roots=sorted(seed_jobs()))
    assert result.states > 10, "the model explored nothing"
    assert result.deadlocks == []


@pytest.mark.parametrize("name", sorted(["build-flask-api", "deploy", "runner-job"]))
def test_each_job_alone_completes(name: str) -> None:
    assert explore(jobs_from_seed(), nodes_from_casc(CASC), roots=[name]).deadlocks == []


def test_mutation_top_level_agent_holding_the_only_executor_deadlocks(tmp_path: Path) -> None:
    """The layout issue 9 found: the build pipeline holds the agent while it waits for runner-job."""
    bad = mutated(tmp_path, "build.Jenkinsfile", *OLD_LAYOUT)
    jobs = jobs_from_seed(build_overrides(bad))
    result = explore(jobs, nodes_from_casc(CASC), roots=["build-flask-api"])
    assert result.deadlocks, "holding the only executor while waiting for runner-job must deadlock"
    assert any("build-flask-api holding docker-agent-1" in d and "waits for runner-job" in d for d in result.deadlocks)


def test_mutation_two_executors_do_not_save_the_old_layout(tmp_path: Path) -> None:
    """More executors only move the limit: two build jobs holding one each still starve runner-job."""
    bad = mutated(tmp_path, "build.Jenkinsfile", *OLD_LAYOUT)
    casc = copy.deepcopy(CASC)
    casc["jenkins"]["nodes"][0]["permanent"]["numExecutors"] = 2
    jobs = jobs_from_seed(build_overrides(bad))
    assert explore(jobs, nodes_from_casc(casc), roots=["build-flask-api"]).deadlocks == []
    both = explore(jobs, nodes_from_casc(casc), roots=["build-flask-api", "build-nginx-proxy"])
    assert both.deadlocks


def test_mutation_label_no_agent_carries_hangs(tmp_path: Path) -> None:
    bad = mutated(tmp_path, "runner-job.Jenkinsfile", ("label 'inventory-docker'", "label 'inventory-dokcer'"))
    result = explore(jobs_from_seed({"runner-job": bad}), nodes_from_casc(CASC), roots=["runner-job"])
    assert any("waits for an executor labelled inventory-dokcer" in d for d in result.deadlocks)


def test_mutation_no_executors_on_the_agents_hangs() -> None:
    casc = copy.deepcopy(CASC)
    for node in casc["jenkins"]["nodes"]:
        node["permanent"]["numExecutors"] = 0
    assert explore(jobs_from_seed(), nodes_from_casc(casc), roots=["deploy"]).deadlocks


def test_mutation_stage_agent_nested_under_a_pipeline_agent_deadlocks(tmp_path: Path) -> None:
    """A stage-level agent inside a pipeline-level one takes a second executor: with one, it waits forever."""
    bad = mutated(tmp_path, "deploy.Jenkinsfile", ("    agent none\n", "    agent { label 'inventory-deploy' }\n"))
    result = explore(jobs_from_seed({"deploy": bad}), nodes_from_casc(CASC), roots=["deploy"])
    assert any("deploy holding deploy-agent-1 waits for an executor" in d for d in result.deadlocks)


def test_controller_runs_no_builds() -> None:
    (controller, *agents) = nodes_from_casc(CASC)
    assert controller.executors == 0
    assert agents and all(a.executors >= 1 for a in agents)
