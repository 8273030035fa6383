"""(3) casc.yaml is valid and declares every credential, label and security setting the pipelines rely on;
plugins.txt pins every plugin they need; the Jenkinsfiles keep their hygiene (timeouts, cleanup, no echoed secrets)."""

from __future__ import annotations

import re

import pytest
import yaml
from cicd_helpers import JENKINS, JENKINSFILES, SEED, find, seed_jobs

CASC = yaml.safe_load((JENKINS / "casc.yaml").read_text())
PLUGIN_LINES = [
    ln.strip() for ln in (JENKINS / "plugins.txt").read_text().splitlines() if ln.strip() and not ln.startswith("#")
]
PLUGINS = dict(ln.split(":", 1) for ln in PLUGIN_LINES)

# What provides each step / DSL method / JCasC key we use (regex on the source -> plugin id).
NEEDS = {
    "jenkinsfile": {
        r"^pipeline\s*\{": "workflow-aggregator",  # declarative (pipeline-model-definition)
        r"\btimestamps\(\)": "timestamper",
        r"\bcleanWs\(": "ws-cleanup",
        r"\bjunit\b": "junit",
        r"\brecordCoverage\b": "coverage",
        r"\bwithCredentials\(": "credentials-binding",
        r"\bfile\(credentialsId": "plain-credentials",
        r"\bcheckout\b": "git",
        r"\binput\b": "workflow-aggregator",  # pipeline-input-step
        r"\bbuild job:": "workflow-aggregator",  # pipeline-build-step
    },
    "seed": {
        r"\bfolder\(": "cloudbees-folder",
        r"\bpipelineJob\(": "workflow-aggregator",
        r"\bgit\s*\{": "git",
        r"\bpollSCM\b": "workflow-aggregator",
    },
    "casc": {
        r"^jobs:": "job-dsl",
        r"globalJobDslSecurityConfiguration": "job-dsl",
        r"globalMatrix:": "matrix-auth",
        r"timestamper:": "timestamper",
        r"^credentials:": "credentials-binding",
    },
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


@pytest.mark.parametrize("kind", sorted(NEEDS))
def test_plugins_cover_every_step_used(kind: str) -> None:
    sources = {
        "jenkinsfile": [p.read_text() for p in JENKINSFILES],
        "seed": [SEED.read_text()],
        "casc": [(JENKINS / "casc.yaml").read_text()],
    }[kind]
    for pattern, plugin in NEEDS[kind].items():
        if any(re.search(pattern, s, re.M) for s in sources):
            assert plugin in PLUGINS, f"{pattern} needs plugin {plugin}"


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
    assert {"dockerhub", "kubeconfig-prod"} <= used
    assert used - declared == set()


def test_credentials_are_placeholders_not_values() -> None:
    text = (JENKINS / "casc.yaml").read_text()
    for key in ("username", "password", "secretBytes"):
        for value in re.findall(rf"^\s+{key}:\s*(.+)$", text, re.M):
            assert value.strip().strip('"').startswith("${"), f"{key} must be resolved from env/file: {value}"


def test_agent_label_is_declared() -> None:
    labels = {n["permanent"]["labelString"] for n in CASC["jenkins"]["nodes"]}
    for jf in JENKINSFILES:
        (label,) = re.findall(r"agent\s*\{\s*label\s+'([^']+)'", jf.read_text())
        assert label in labels
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
    text = jf.read_text()
    stages = re.split(r"\bstage\('", text)[1:]
    assert stages
    for body in stages:
        name = body.split("'", 1)[0]
        assert re.search(r"options\s*\{\s*timeout\(time:", body), f"{jf.name}: stage {name} has no timeout"
    assert re.search(r"^\s{4}options \{\s*\n\s*timeout\(", text, re.M), "pipeline-level timeout"


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
    for name in ("build-flask-api", "build-nginx-proxy"):
        text = (JENKINS / "pipelines" / f"{name}.Jenkinsfile").read_text()
        push = text.split("stage('push')", 1)[1].split("stage(", 1)[0]
        assert "when { expression { env.GIT_BRANCH ==~ /(origin\\/)?main/ } }" in push
        assert "withCredentials([usernamePassword(credentialsId: 'dockerhub'" in push
        assert "sh 'make push" in push


def test_prod_deploy_needs_manual_approval() -> None:
    text = (JENKINS / "pipelines" / "deploy.Jenkinsfile").read_text()
    approval = text.split("stage('approval')", 1)[1].split("stage(", 1)[0]
    assert "when { expression { params.ENV == 'prod' } }" in approval
    assert re.search(r"\binput message:", approval)
    assert text.index("stage('approval')") < text.index("stage('deploy')")
