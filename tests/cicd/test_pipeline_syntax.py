"""Declarative Pipeline semantics of every Jenkinsfile (pipeline_syntax.py, after the Pipeline Syntax reference),
with mutations proving each rule fails on a broken copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from cicd_helpers import JENKINS, JENKINSFILES, probe, probe_many
from pipeline_syntax import validate


@pytest.mark.parametrize("jf", JENKINSFILES, ids=lambda p: p.name)
def test_jenkinsfile_is_valid_declarative(jf: Path) -> None:
    assert validate(probe(jf)) == []


# (file, text to replace, replacement, part of the expected error)
MUTATIONS = [
    pytest.param(
        "runner-job.Jenkinsfile",
        "            steps {\n                checkout scm\n",
        "            checkout scm\n            steps {\n",
        "`checkout` is not allowed here",
        id="checkout-outside-steps",
    ),
    pytest.param(
        "build.Jenkinsfile",
        "timeout(time: 15, unit: 'MINUTES')",
        "timeout(time: 15, unit: 'FORTNIGHTS')",
        "timeout unit 'FORTNIGHTS' is not a TimeUnit",
        id="timeout-unit-fortnights",
    ),
    pytest.param(
        "build.Jenkinsfile",
        "timeout(time: 90, unit: 'MINUTES')",
        "timeout(time: 0, unit: 'MINUTES')",
        "timeout time must be a positive integer",
        id="timeout-zero",
    ),
    pytest.param(
        "deploy.Jenkinsfile",
        "options { timeout(time: 10, unit: 'MINUTES') }",
        "options { timeout(time: 10, unit: 'MINUTES'); buildDiscarder(logRotator(numToKeepStr: '5')) }",
        "`buildDiscarder` is not a valid option here",
        id="pipeline-only-option-on-a-stage",
    ),
    pytest.param(
        "deploy.Jenkinsfile",
        "            input {\n                message 'Deploy to prod?'\n",
        "            input {\n",
        "input directive needs a message",
        id="input-without-message",
    ),
    pytest.param(
        "deploy.Jenkinsfile",
        "    agent none\n",
        "    agent { label 'inventory-docker' }\n",
        "input directive inside an agent held by an outer block",
        id="input-under-a-pipeline-agent",
    ),
    pytest.param(
        "runner-job.Jenkinsfile",
        "                sh 'make pull-images integration-suite'\n",
        "                sh 'make pull-images integration-suite'\n                input message: 'ok?'\n",
        "`input` step while an agent is held",
        id="input-step-holding-the-executor",
    ),
    pytest.param(
        "build.Jenkinsfile",
        "            // No agent: `build` needs no executor, and none is held while runner-job runs.\n",
        "",
        None,
        id="control-comment-only",
    ),
    pytest.param(
        "build.Jenkinsfile",
        "                build job: 'runner-job'",
        "                sh 'true'\n                build job: 'runner-job'",
        "`sh` needs a workspace but no agent is allocated here",
        id="sh-without-agent",
    ),
    pytest.param(
        "mirror.Jenkinsfile",
        "    post {\n        always {",
        "    post {\n        allways {",
        "`allways` is not a post condition",
        id="misspelt-post-condition",
    ),
    pytest.param(
        "mirror.Jenkinsfile",
        "when { expression {",
        "when { expresion {",
        "`expresion` is not a when condition",
        id="misspelt-when-condition",
    ),
    pytest.param(
        "runner-job.Jenkinsfile",
        "    agent { label 'inventory-docker' }\n",
        "",
        "pipeline: `agent` is required",
        id="no-agent-section",
    ),
    pytest.param(
        "runner-job.Jenkinsfile",
        "        stage('integration') {\n",
        "        stage('integration') {\n            stage('nested') { steps { sh 'true' } }\n",
        "`stage` is not allowed here",
        id="stage-directly-in-a-stage",
    ),
    pytest.param(
        "mirror.Jenkinsfile",
        "            steps {\n                script { env.GIT_BRANCH",
        "            steps { sh 'true' }\n            steps {\n                script { env.GIT_BRANCH",
        "`steps` appears more than once",
        id="two-steps-blocks",
    ),
    pytest.param(
        "deploy.Jenkinsfile",
        "                    sh 'make images-json",
        "                    stage('inner') { steps { sh 'true' } }\n                    sh 'make images-json",
        "`stage` is a declarative section, not a step",
        id="stage-inside-steps",
    ),
]


@pytest.fixture(scope="module")
def mutants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every mutated copy, written once and probed in one JVM."""
    out = {}
    for param in MUTATIONS:
        name, old, new, _ = param.values
        text = (JENKINS / "pipelines" / name).read_text()
        assert old in text, f"mutation anchor missing from {name}: {old!r}"
        path = tmp_path_factory.mktemp(str(param.id)) / name
        path.write_text(text.replace(old, new, 1))
        out[str(param.id)] = path
    probe_many(list(out.values()))
    return out


@pytest.mark.parametrize(("name", "old", "new", "error"), MUTATIONS)
def test_mutation_is_rejected(request, mutants, name: str, old: str, new: str, error: str | None) -> None:
    bad = mutants[request.node.callspec.id]
    errors = validate(probe(bad))
    if error is None:  # the control: a harmless edit keeps the file valid, so the checks are not just noise
        assert errors == []
    else:
        assert any(error in e for e in errors), errors
