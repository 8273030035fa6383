"""(3) casc.yaml is valid and declares every credential, label and security setting the pipelines rely on;
plugins.txt pins every plugin they need; the Jenkinsfiles keep their hygiene (timeouts, cleanup, no echoed secrets)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from cicd_helpers import JENKINS, JENKINSFILES, find, names, probe, seed_calls, seed_jobs
from jenkins_realm import Realm, approval_problems
from stage_entry import input_directive

CASC = yaml.safe_load((JENKINS / "casc.yaml").read_text())
PLUGIN_LINES = [
    ln.strip() for ln in (JENKINS / "plugins.txt").read_text().splitlines() if ln.strip() and not ln.startswith("#")
]
PLUGINS = dict(ln.split(":", 1) for ln in PLUGIN_LINES)

# Every step / declarative keyword the Jenkinsfiles may call, and the plugin that provides it ("core" = Jenkins).
# A call the evaluated Jenkinsfile makes that is not listed here is a typo or a new plugin to pin.
PIPELINE_STEPS = {
    **dict.fromkeys(
        (
            *("pipeline", "agent", "label", "options", "environment", "stages", "stage", "steps", "script", "post"),
            *("always", "when", "expression", "skipDefaultCheckout", "timeout", "sh", "error", "input", "build"),
            *("string", "checkout", "echo", "readFile", "message", "ok", "submitter", "submitterParameter"),
            "beforeInput",
        ),
        "workflow-aggregator",  # pipeline-model-definition, workflow-basic-steps, -durable-task-step, -input-step ...
    ),
    "archiveArtifacts": "core",
    "timestamps": "timestamper",
    "cleanWs": "ws-cleanup",
    "junit": "junit",
    "recordCoverage": "coverage",
    "withCredentials": "credentials-binding",
    "usernamePassword": "credentials-binding",  # pragma: allowlist secret (a step name)
    "file": "plain-credentials",
    "copyArtifacts": "copyartifact",
    "lastSuccessful": "copyartifact",
}
# Every Job DSL method the seed may call and the plugin behind the job/view type it configures.
SEED_DSL = {
    "folder": "cloudbees-folder",
    "displayName": "cloudbees-folder",
    "pipelineJob": "workflow-aggregator",
    "cpsScm": "workflow-aggregator",
    "pipelineTriggers": "workflow-aggregator",
    "scm": "git",
    "git": "git",
    "remote": "git",
    "url": "git",
    "branch": "git",
    "copyArtifactPermission": "copyartifact",
    "projectNames": "copyartifact",
    **dict.fromkeys(
        (
            *("description", "logRotator", "daysToKeep", "numToKeep", "artifactNumToKeep", "parameters"),
            *("choiceParam", "stringParam", "properties", "disableConcurrentBuilds", "triggers", "pollSCM"),
            *("scmpoll_spec", "definition", "scriptPath", "lightweight", "listView", "jobs", "names", "columns"),
            *("status", "weather", "name", "lastSuccess", "lastFailure", "lastDuration", "buildButton"),
        ),
        "job-dsl",
    ),
}
CASC_KEYS = {
    r"^jobs:": "job-dsl",
    r"globalJobDslSecurityConfiguration": "job-dsl",
    r"globalMatrix:": "matrix-auth",
    r"timestamper:": "timestamper",
    r"^credentials:": "credentials-binding",
    r"usernamePassword:": "credentials-binding",
    r"- file:": "plain-credentials",
}
REQUIRED = {
    "job-dsl",
    "workflow-aggregator",
    "docker-workflow",
    "credentials-binding",
    "configuration-as-code",
    "junit",
    "git",
    "timestamper",
    "ws-cleanup",
    "pipeline-utility-steps",
    "coverage",
    "matrix-auth",
    "copyartifact",
}


def casc_credential_ids() -> set[str]:
    ids = set()
    for domain in CASC["credentials"]["system"]["domainCredentials"]:
        for cred in domain["credentials"]:
            ((_, body),) = cred.items()
            ids.add(body["id"])
    return ids


def test_plugins_are_pinned() -> None:
    for line in PLUGIN_LINES:
        assert re.fullmatch(r"[a-z0-9-]+:[0-9][\w.-]*", line), f"not pinned: {line}"
    assert len(PLUGINS) == len(PLUGIN_LINES), "duplicate plugin"


def test_plugins_include_the_required_set() -> None:
    assert REQUIRED - set(PLUGINS) == set()


@pytest.mark.parametrize("jf", JENKINSFILES, ids=lambda p: p.name)
def test_every_step_is_known_and_its_plugin_pinned(jf) -> None:
    called = {n for n in names(probe(jf)) if not n.startswith("=")}
    assert {"pipeline", "stage", "sh"} <= called, "the probe did not evaluate the pipeline"
    unknown = called - set(PIPELINE_STEPS)
    assert not unknown, f"{jf.name}: unknown steps {sorted(unknown)} (typo, or add the step and pin its plugin)"
    for step in called:
        plugin = PIPELINE_STEPS[step]
        assert plugin == "core" or plugin in PLUGINS, f"{jf.name}: step {step} needs plugin {plugin}"


def test_every_seed_dsl_method_is_known_and_its_plugin_pinned() -> None:
    called = names(seed_calls())
    unknown = called - set(SEED_DSL)
    assert not unknown, f"seed.groovy: unknown Job DSL methods {sorted(unknown)}"
    for method in called:
        assert SEED_DSL[method] in PLUGINS, f"seed.groovy: {method} needs plugin {SEED_DSL[method]}"


def test_casc_keys_have_their_plugins() -> None:
    text = (JENKINS / "casc.yaml").read_text()
    for pattern, plugin in CASC_KEYS.items():
        if re.search(pattern, text, re.M):
            assert plugin in PLUGINS, f"casc.yaml {pattern} needs plugin {plugin}"
    assert "configuration-as-code" in PLUGINS


def test_probe_catches_a_misspelt_step(tmp_path) -> None:
    """The step check can fail: `cleanWS()` (wrong case) is reported as unknown."""
    bad = tmp_path / "bad.Jenkinsfile"
    bad.write_text(JENKINSFILES[0].read_text().replace("cleanWs()", "cleanWS()"))
    assert "cleanWS" in names(probe(bad)) - set(PIPELINE_STEPS)


def test_dockerfile_installs_plugins_and_casc() -> None:
    text = (JENKINS / "Dockerfile").read_text()
    assert re.search(r"^FROM jenkins/jenkins:[\d.]+-lts", text, re.M), "official LTS image, pinned"
    assert "jenkins-plugin-cli --verbose --plugin-file /usr/share/jenkins/ref/plugins.txt" in text
    assert "CASC_JENKINS_CONFIG" in text


def test_local_controller_binds_loopback_only() -> None:
    compose = yaml.safe_load((JENKINS / "compose.yaml").read_text())
    for svc in compose["services"].values():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port


def test_every_credential_used_is_declared() -> None:
    declared = casc_credential_ids()
    envs = find(seed_jobs()["deploy"], "choiceParam")[0]["args"][1]
    used = set()
    for jf in JENKINSFILES:
        for cid in re.findall(r"credentialsId:\s*[\"']([^\"']+)[\"']", jf.read_text()):
            # A parameterised id is expanded over the parameter's choices from the seed.
            used |= {cid.replace("${params.ENV}", env) for env in envs} if "${params.ENV}" in cid else {cid}
    assert used, "no credentials found: the regex is broken"
    assert {"registry", "kubeconfig-prod"} <= used
    assert used - declared == set()


def test_credentials_are_placeholders_not_values() -> None:
    text = (JENKINS / "casc.yaml").read_text()
    for key in ("username", "password", "secretBytes"):
        for value in re.findall(rf"^\s+{key}:\s*(.+)$", text, re.M):
            assert value.strip().strip('"').startswith("${"), f"{key} must be resolved from env/file: {value}"


def test_agent_label_is_declared() -> None:
    labels = {n["permanent"]["labelString"] for n in CASC["jenkins"]["nodes"]}
    for jf in JENKINSFILES:
        used = {a["args"][0] for a in find(probe(jf), "label")}
        assert used, f"{jf.name} asks for no agent label"
        assert used <= labels
    assert CASC["jenkins"]["numExecutors"] == 0, "no builds on the controller"


def test_security_settings() -> None:
    j = CASC["jenkins"]
    assert j["securityRealm"]["local"]["allowsSignup"] is False
    entries = j["authorizationStrategy"]["globalMatrix"]["entries"]
    names = {next(iter(e.values()))["name"] for e in entries}
    assert "anonymous" not in names, "no anonymous read"
    assert "standard" in j["crumbIssuer"], "CSRF protection on"
    assert CASC["security"]["globalJobDslSecurityConfiguration"]["useScriptSecurity"] is True


def test_seed_job_created_on_startup() -> None:
    script = CASC["jobs"][0]["script"]
    assert "job('seed')" in script and "targets('jenkins/seed/seed.groovy')" in script
    assert "triggers { scm(" in script


@pytest.mark.parametrize("jf", JENKINSFILES, ids=lambda p: p.name)
def test_every_stage_has_a_timeout(jf) -> None:
    """Every stage that runs steps has its own timeout (a stage that only groups stages inherits theirs)."""
    (pipeline,) = find(probe(jf), "pipeline")
    top_options = [c for c in pipeline["children"] if c["name"] == "options"]
    assert top_options and find(top_options[0], "timeout"), "pipeline-level timeout"
    stages = [s for s in find(pipeline, "stage") if any(c["name"] == "steps" for c in s["children"])]
    assert len(stages) >= 2
    for stage in stages:
        options = [c for c in stage["children"] if c["name"] == "options"]
        timeouts = find(options[0], "timeout") if options else []
        assert timeouts, f"{jf.name}: stage {stage['args'][0]} has no timeout"
        assert timeouts[0]["args"][0]["time"] <= 60


@pytest.mark.parametrize("jf", JENKINSFILES, ids=lambda p: p.name)
def test_post_always_archives_and_cleans(jf) -> None:
    post = jf.read_text().rsplit("post {", 1)[1]
    assert "always" in post and "cleanWs()" in post and "archiveArtifacts" in post


@pytest.mark.parametrize("jf", JENKINSFILES, ids=lambda p: p.name)
def test_no_secret_is_interpolated_or_echoed(jf) -> None:
    text = jf.read_text()
    for var in ("REGISTRY_PASSWORD", "DOCKERHUB_TOKEN", "KUBECONFIG"):
        assert not re.search(rf"sh\s+\"[^\"]*\$\{{?{var}", text), f"{var} interpolated by Groovy"
        assert not re.search(rf"echo[^\n]*\${{?{var}", text), f"{var} echoed"
    assert "set -x" not in text


def test_push_only_from_main_with_credentials() -> None:
    text = (JENKINS / "pipelines" / "build.Jenkinsfile").read_text()
    push = text.split("stage('push')", 1)[1].split("stage(", 1)[0]
    assert "when { expression { env.GIT_BRANCH ==~ /(origin\\/)?main/ } }" in push
    assert "withCredentials([usernamePassword(credentialsId: 'registry'" in push
    assert "sh 'make push" in push


def inputs(tree: dict) -> list[tuple[str, dict]]:
    """(stage, {option: value}) of every stage-level input directive of a probed Jenkinsfile."""
    return [(s["args"][0], input_directive(s) or {}) for s in find(tree, "stage") if input_directive(s) is not None]


def approval_gate_problems(casc: dict, jenkinsfiles: list[Path]) -> list[str]:
    """Every input of every Jenkinsfile, resolved against casc's realm as Jenkins resolves a submitter."""
    realm = Realm.from_casc(casc)
    found = [(jf, stage, inp) for jf in jenkinsfiles for stage, inp in inputs(probe(jf))]
    assert found, "no input directive found: the probe or the Jenkinsfiles changed"
    return [
        f"{jf.name} stage {stage}: {problem}"
        for jf, stage, inp in found
        for problem in approval_problems(realm, inp.get("submitter"))
    ]


def test_every_approval_can_be_given_by_a_second_person_of_the_realm() -> None:
    """Issue 17 item 2: the prod approval resolves in casc.yaml's realm to at least two people who are not
    administrators (so whoever starts a deploy, another person can approve it), and to no one else but admins."""
    assert approval_gate_problems(CASC, JENKINSFILES) == []
    realm = Realm.from_casc(CASC)
    ((_stage, approval),) = inputs(probe(JENKINS / "pipelines" / "deploy.Jenkinsfile"))
    deciders = realm.approvers(approval["submitter"]) - {u for u in realm.users if u.lower() in realm.admins}
    builders = {u for u in realm.users if u.lower() in realm.builders}
    assert len(deciders) >= 2 and deciders < builders, "approvers are some of the users, not every user"
    assert approval.get("submitterParameter"), "the pipeline needs the approver's id to refuse self-approval"


def test_approval_gate_rule_fails_on_the_old_group_and_on_a_one_person_realm(tmp_path: Path) -> None:
    """The rule can fail: the old `submitter 'release-managers'` (a group the local realm does not have: only an
    administrator could approve) and a realm with a single release manager."""
    text = (JENKINS / "pipelines" / "deploy.Jenkinsfile").read_text()
    bad = tmp_path / "deploy.Jenkinsfile"
    bad.write_text(text.replace("submitter 'release-manager-1,release-manager-2'", "submitter 'release-managers'"))
    problems = approval_gate_problems(CASC, [bad])
    assert any("'release-managers' is neither a user nor a group" in p for p in problems), problems
    assert any("besides administrators" in p for p in problems), problems
    lonely = copy.deepcopy(CASC)
    lonely["jenkins"]["securityRealm"]["local"]["users"] = [
        u for u in lonely["jenkins"]["securityRealm"]["local"]["users"] if u["id"] != "release-manager-2"
    ]
    assert any("at least two people" in p for p in approval_gate_problems(lonely, JENKINSFILES))
    everyone = tmp_path / "everyone.Jenkinsfile"
    everyone.write_text(text.replace("submitter 'release-manager-1,release-manager-2'", "submitter 'authenticated'"))
    assert any("every logged-in user" in p for p in approval_gate_problems(CASC, [everyone]))


def test_matrix_groups_exist_in_the_realm() -> None:
    """A globalMatrix grant to a group the realm does not have grants nothing (the old `release-managers`)."""
    realm = Realm.from_casc(CASC)
    for entry in CASC["jenkins"]["authorizationStrategy"]["globalMatrix"]["entries"]:
        ((kind, grant),) = entry.items()
        if kind == "group":
            assert grant["name"].lower() in realm.all_groups(), f"group {grant['name']} does not exist in the realm"


def test_prod_approval_comes_before_the_deploy() -> None:
    stages = [s["args"][0] for s in find(probe(JENKINS / "pipelines" / "deploy.Jenkinsfile"), "stage")]
    assert stages.index("approval") < stages.index("deploy")
