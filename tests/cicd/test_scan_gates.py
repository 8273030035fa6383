"""(4) `make scan-config` runs the real scanners: it FAILS on the known-bad fixtures and passes on our files.
(5) The offline gate: an image scan without a Trivy DB / Dockle fails loudly unless SCAN_OFFLINE_OK=1.
Also: waivers are the only (and a validated) way to accept a finding; `make push` refuses when unconfigured."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cicd_helpers import ROOT

FIXTURES = ROOT / "scan" / "fixtures"
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
BASE_IMAGE = os.environ.get("BASE_IMAGE", "debian:bookworm-slim")
# A parent `make test` must not leak its command-line variables (MAKEFLAGS) into the makes these tests run.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SCAN_OFFLINE_OK")}


def make(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        env={**CLEAN_ENV, **(env or {})},
        timeout=timeout,
        check=False,
    )


def summary(out: str) -> dict[str, str]:
    """scanner name -> OK/FINDINGS/ERROR/UNAVAILABLE from the summary scan.py prints last."""
    block = out.rsplit("==> scan summary", 1)[1]
    rows = re.findall(r"^\s{4}(OK|FINDINGS|ERROR|UNAVAILABLE)\s+(.+?)(?:\s{2}\(.*\))?$", block, re.M)
    return {name.strip(): status for status, name in rows}


def scan_config(dockerfiles: str = "", k8s: str = "", compose: str = "", waivers: str = "") -> tuple[int, str]:
    args = ["scan-config", f"SCAN_DOCKERFILES={dockerfiles}", f"SCAN_K8S={k8s}", f"SCAN_COMPOSE={compose}"]
    env = {"SCAN_WAIVERS": waivers} if waivers else None
    proc = make(*args, env=env)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def bad_dockerfile(tmp_path: Path) -> Path:
    target = tmp_path / "Dockerfile"
    shutil.copy(FIXTURES / "bad.containerfile", target)
    return target


def test_bad_dockerfile_fails_every_dockerfile_scanner(bad_dockerfile: Path) -> None:
    rc, out = scan_config(dockerfiles=str(bad_dockerfile))
    assert rc != 0, out
    result = summary(out)
    assert result["hadolint"] == "FINDINGS"
    assert result[f"trivy config {bad_dockerfile}"] == "FINDINGS"
    assert result["checkov dockerfile"] == "FINDINGS"
    assert "DS-0002" in out  # root user
    assert "DL3007" in out  # hadolint: latest tag
    assert "CKV_DOCKER_7" in out  # latest tag


def test_bad_manifest_fails_trivy_and_checkov() -> None:
    pod = "scan/fixtures/bad-pod.yaml"
    rc, out = scan_config(k8s=pod)
    assert rc != 0, out
    result = summary(out)
    assert result[f"trivy config {pod}"] == "FINDINGS"
    assert result["checkov kubernetes"] == "FINDINGS"
    assert "CKV_K8S_16" in out  # privileged
    assert "CKV_K8S_27" in out  # docker.sock hostPath
    assert re.search(r"KSV-?0*17\b", out), "trivy: privileged container"


def test_bad_compose_fails_the_compose_policy() -> None:
    rc, out = scan_config(compose="scan/fixtures/bad-compose.yaml")
    assert rc != 0, out
    assert summary(out)["compose policy scan/fixtures/bad-compose.yaml"] == "FINDINGS"
    for rule in ("privileged", "docker-socket-mounted", "host-network", "public-port", "run-as-root"):
        assert f"bad:{rule}:" in out


def test_our_config_passes() -> None:
    proc = make("scan-config")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    result = summary(out)
    assert result and set(result.values()) == {"OK"}
    assert "hadolint" in result and "checkov dockerfile" in result
    assert any(k.startswith("trivy config api/Dockerfile") for k in result)
    assert "compose policy compose.yaml" in result


def test_a_waiver_is_the_only_way_to_accept_a_finding(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n  web:\n    image: example:1.0\n    user: '10001'\n    read_only: true\n    cap_drop: [ALL]\n"
        "    mem_limit: 64m\n    security_opt: ['no-new-privileges:true']\n    ports: ['8080:80']\n"
    )
    rc, out = scan_config(compose=str(compose))
    assert rc != 0 and "web:public-port" in out
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - {tool: compose, id: 'web:public-port', reason: 'test: published on purpose for this test'}\n"
    )
    rc, out = scan_config(compose=str(compose), waivers=str(waivers))
    assert rc == 0, out
    waivers.write_text("waivers:\n  - {tool: compose, id: 'web:public-port', reason: ''}\n")
    rc, out = scan_config(compose=str(compose), waivers=str(waivers))
    assert rc != 0 and "needs a reason" in out


def test_repository_waivers_are_valid() -> None:
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "scan/scan.py", "waivers"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "all with a reason" in proc.stdout


@pytest.fixture(scope="module")
def probe_image() -> Iterator[str]:
    """A tiny non-root image built by this test from the local base image (removed afterwards)."""
    if subprocess.run([DOCKER, "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
        pytest.fail(f"base image {BASE_IMAGE} missing: run `make base-image`")
    tag = f"cicd-scan-probe-{uuid.uuid4().hex[:10]}:1"
    subprocess.run(
        [DOCKER, "build", "-q", "-t", tag, "-"],
        input=f"FROM {BASE_IMAGE}\nUSER 65534:65534\nHEALTHCHECK NONE\n",
        text=True,
        capture_output=True,
        check=True,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    try:
        yield tag
    finally:
        subprocess.run([DOCKER, "image", "rm", "-f", tag], capture_output=True, check=False)


def scan_images(image: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    cache = tmp_path / "empty-trivy-cache"  # no vulnerability DB, whatever this machine has cached
    cache.mkdir(exist_ok=True)
    full_env = {k: v for k, v in os.environ.items() if k not in ("SCAN_OFFLINE_OK", "SCAN_DB_DOWNLOAD")}
    full_env |= {"TRIVY_CACHE_DIR": str(cache), "REPORTS_DIR": str(tmp_path / "reports"), "DOCKLE": "", **env}
    return subprocess.run(
        [str(ROOT / ".venv/bin/python"), "scan/scan.py", "images", image],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
        check=False,
    )


def test_offline_gate_fails_loudly_without_scan_offline_ok(probe_image: str, tmp_path: Path) -> None:
    proc = scan_images(probe_image, tmp_path)
    assert proc.returncode != 0
    assert "VULNERABILITY SCAN OF" in proc.stderr and "DID NOT RUN" in proc.stderr
    assert "DOCKLE (CIS image checks) DID NOT RUN" in proc.stderr
    assert "(NOT accepted)" in proc.stdout


def test_offline_gate_accepts_exactly_the_two_gaps_and_still_writes_the_sbom(probe_image: str, tmp_path: Path) -> None:
    proc = scan_images(probe_image, tmp_path, SCAN_OFFLINE_OK="1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("(accepted: SCAN_OFFLINE_OK=1)") == 2
    assert "SOME SCANNERS DID NOT RUN" in proc.stderr  # still loud
    name = probe_image.split(":")[0]
    sbom = json.loads((tmp_path / "reports" / "sbom" / f"{name}.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    packages = {c["name"] for c in sbom["components"]}
    assert {"bash", "libc6", "dpkg"} <= packages
    # The base is what it says: the SBOM's operating system is the release the tag names (bookworm = Debian 12),
    # at the point release the image really holds, and the README names the same tag as the Makefile.
    (os_component,) = [c for c in sbom["components"] if c.get("type") == "operating-system"]
    real_version = subprocess.run(
        [DOCKER, "run", "--rm", "--network", "none", "--entrypoint", "cat", probe_image, "/etc/debian_version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (os_component["name"], os_component["version"]) == ("debian", real_version)
    makefile_base = re.search(r"\$\(BASE_IMAGE\)\),(debian:[^)]+)\)", (ROOT / "Makefile").read_text())
    assert makefile_base and makefile_base.group(1) == "debian:bookworm-slim" == BASE_IMAGE
    assert real_version.startswith("12."), "bookworm is Debian 12"
    docs = "".join(f.read_text() for f in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    assert f"`{BASE_IMAGE}`" in docs and "12.12-slim" not in docs
    digest = json.loads((tmp_path / "reports" / "sbom" / f"{name}.digest.json").read_text())
    real_id = subprocess.run(
        [DOCKER, "image", "inspect", "--format", "{{.Id}}", probe_image], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert digest["id"] == real_id


def test_image_config_policy_fails_on_root_and_secret_env(tmp_path: Path) -> None:
    """The CIS image checks we run ourselves (no Dockle needed): root user and a secret-looking ENV fail."""
    tag = f"cicd-scan-bad-{uuid.uuid4().hex[:10]}:1"
    secret_env = "API_" + "TOKEN"  # pragma: allowlist secret (a variable name)
    subprocess.run(
        [DOCKER, "build", "-q", "-t", tag, "-"],
        input=f"FROM {BASE_IMAGE}\nENV {secret_env}=abc123 TOKEN_FILE=/run/secrets/token\n",
        text=True,
        capture_output=True,
        check=True,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    try:
        proc = scan_images(tag, tmp_path, SCAN_OFFLINE_OK="1")
    finally:
        subprocess.run([DOCKER, "image", "rm", "-f", tag], capture_output=True, check=False)
    assert proc.returncode != 0
    assert summary(proc.stdout)[f"image config policy {tag}"] == "FINDINGS"
    assert "CIS-DI-0001: runs as root" in proc.stdout
    assert f"CIS-DI-0010: ENV {secret_env}" in proc.stdout
    assert "TOKEN_FILE" not in proc.stdout  # a path to a secret file is the right way, not a finding


def test_offline_ok_does_not_hide_other_failures(tmp_path: Path) -> None:
    proc = scan_images(f"cicd-no-such-image-{uuid.uuid4().hex[:8]}:1", tmp_path, SCAN_OFFLINE_OK="1")
    assert proc.returncode != 0
    assert "image not found locally" in proc.stdout


def chart_registry() -> str:
    """THE registry: the chart's imageRegistry (make push reads it from there, nowhere else)."""
    values = (ROOT / "deploy/helm/container-inventory/values.yaml").read_text()
    (registry,) = re.findall(r"^imageRegistry: *(\S+)$", values, re.M)
    return registry


def test_push_refuses_when_not_configured() -> None:
    env = {k: "" for k in ("REGISTRY_USER", "REGISTRY_PASSWORD", "REGISTRY_PASSWORD_FILE")}
    proc = make("push", env={**env, "PUSH_REGISTRY": "docker.io/elsewhere"})
    assert proc.returncode != 0
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("registry:")]
    assert errors == ["registry: REGISTRY_USER is not set (Jenkins: withCredentials 'registry'); refusing to push"]
    assert f"-> {chart_registry()}" in proc.stdout, "the environment cannot redirect the push"


def test_push_dry_run_pushes_both_tags_without_leaking_the_password(tmp_path: Path) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    pw = tmp_path / "token"
    pw.write_text(secret)
    env = {"PUSH_DRY_RUN": "1", "REGISTRY_USER": "ci-bot", "REGISTRY_PASSWORD": "", "REGISTRY_PASSWORD_FILE": str(pw)}
    proc = make("push", "IMAGES=flask-api nginx-proxy", "IMAGE_TAG=9.9.9", env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert secret not in out
    registry = chart_registry()
    assert f"login --username ci-bot --password-stdin {registry.split('/')[0]}" in out
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    version = (ROOT / "VERSION").read_text().strip()
    for img in ("flask-api", "nginx-proxy"):
        for tag in ("9.9.9", f"{version}-{sha.stdout.strip()}"):
            assert f"push {registry}/{img}:{tag}" in out


def test_make_down_is_a_safe_cleanup() -> None:
    """The Jenkinsfiles' post step `make down` runs for real on a project that does not exist."""
    proc = make("down", env={"COMPOSE_PROJECT_NAME": f"cicd-down-{uuid.uuid4().hex[:8]}"}, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def bad_chart(tmp_path: Path) -> Path:
    chart = tmp_path / "badchart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: badchart\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("privileged: true\n")
    pod = (FIXTURES / "bad-pod.yaml").read_text().replace("privileged: true", "privileged: {{ .Values.privileged }}")
    # An inline suppression must not count: only scan/waivers.yaml may accept a finding.
    inline = "  annotations:\n    checkov.io/skip1: CKV_K8S_16=inline waivers do not count\n"
    pod = pod.replace("  namespace: default\n", inline)
    (chart / "templates" / "pod.yaml").write_text(pod)
    return chart


def test_bad_chart_fails_with_trivys_own_renderer(tmp_path: Path) -> None:
    chart = bad_chart(tmp_path)
    proc = make("scan-config", "SCAN_DOCKERFILES=", f"SCAN_K8S={chart}", "SCAN_COMPOSE=", "HELM=")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "no helm binary" in out
    assert summary(out)[f"trivy config {chart}"] == "FINDINGS"


def test_bad_chart_fails_when_rendered_with_helm(tmp_path: Path) -> None:
    helm = os.environ.get("HELM") or shutil.which("helm") or str(ROOT / ".venv/k8s/bin/helm")
    if not Path(helm).exists():
        pytest.fail("no helm binary: run `make k8s-tools` (installs it into .venv/k8s/bin)")
    chart = bad_chart(tmp_path)
    proc = make("scan-config", "SCAN_DOCKERFILES=", f"SCAN_K8S={chart}", "SCAN_COMPOSE=", f"HELM={helm}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    result = summary(out)
    assert result["checkov kubernetes"] == "FINDINGS"
    assert any(k.startswith("trivy config") and "rendered/badchart-default.yaml" in k for k in result)
    assert "CKV_K8S_16" in out
    assert "ignored 1 inline checkov.io/skip annotation(s)" in out


def test_no_inline_suppressions_in_scanned_sources() -> None:
    """Dockerfiles and compose files carry no scanner suppressions of their own (chart annotations are stripped)."""
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "*Dockerfile", "compose.yaml", "*/compose.yaml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "api/Dockerfile" in files
    for f in files:
        text = (ROOT / f).read_text().lower()
        for marker in ("checkov:skip", "trivy:ignore", "hadolint ignore", "checkov.io/skip"):
            assert marker not in text, f"{f}: inline suppression {marker!r}; use scan/waivers.yaml"


def test_whole_filesystem_copy_only_flattens_the_api_image() -> None:
    """.hadolint.yaml ignores DL3067 for one reason: api/Dockerfile's `FROM scratch` + `COPY --from=runtime / /`.
    Any other whole-filesystem copy (another Dockerfile, another stage, not into scratch) fails here instead."""
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "*Dockerfile"], capture_output=True, text=True, check=True
    ).stdout.split()
    copies = []
    for f in files:
        stage = ""
        for line in (ROOT / f).read_text().splitlines():
            if line.startswith("FROM "):
                stage = line.split()[1]
            m = re.match(r"COPY\s+(?:--\S+\s+)*--from=(\S+)(?:\s+--\S+)*\s+/\s+\S+\s*$", line)
            if m:
                copies.append((f, stage, m.group(1)))
    assert copies == [("api/Dockerfile", "scratch", "runtime")]
