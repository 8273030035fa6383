"""/api/posture in JSON, SARIF 2.1.0 and JUnit XML, checked by real consumers: Microsoft's SARIF Multitool
(`make sarif-tools`; its validate must report no error and no warning) and junitparser (the JUnit XML model
Jenkins' JUnit plugin reads: suites, cases, failures, skips). Plus /api/rules and inventory-scan."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import RecordedBackend, make_app
from inventory.posture import catalog
from junitparser import Failure, JUnitXml, Skipped

from tests.support.prereq import unavailable

ROOT = Path(__file__).resolve().parents[2]
MULTITOOL = ROOT / ".venv-node" / "node_modules" / "@microsoft" / "sarif-multitool-linux" / "Sarif.Multitool"
WAIVERS = """waivers:
  - rule: privileged
    target: {name: legacy-db}
    reason: vendor appliance, replacement scheduled
    owner: team-db
    expires: "2999-01-01"
"""


@pytest.fixture()
def waived_client(tmp_path: Path, backend: RecordedBackend) -> Any:
    path = tmp_path / "w.yaml"
    path.write_text(WAIVERS)
    return make_app(backend, WAIVER_FILE=str(path)).test_client()


def multitool_validate(path: Path) -> list[dict[str, Any]]:
    if not MULTITOOL.exists():
        unavailable(f"SARIF Multitool not installed at {MULTITOOL} (make sarif-tools)")
    out = path.with_suffix(".validation.sarif")
    proc = subprocess.run(
        [str(MULTITOOL), "validate", str(path), "--output", str(out), "--log", "ForceOverwrite"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())["runs"][0].get("results") or []


def test_format_negotiation(waived_client: Any) -> None:
    assert waived_client.get("/api/posture").mimetype == "application/json"
    assert waived_client.get("/api/posture?format=sarif").mimetype == "application/sarif+json"
    assert waived_client.get("/api/posture", headers={"Accept": "application/sarif+json"}).json["version"] == "2.1.0"
    junit = waived_client.get("/api/posture", headers={"Accept": "application/xml"})
    assert junit.mimetype == "application/xml" and junit.data.startswith(b"<?xml")
    bad = waived_client.get("/api/posture?format=csv")
    assert bad.status_code == 400 and bad.json["parameter"] == "format"
    a, b = waived_client.get("/api/posture?format=json"), waived_client.get("/api/posture?format=junit")
    assert a.headers["ETag"] != b.headers["ETag"] and "Accept" in b.headers["Vary"]


def test_sarif_passes_the_multitool(waived_client: Any, tmp_path: Path) -> None:
    doc = waived_client.get("/api/posture?all=true&format=sarif").json
    run = doc["runs"][0]
    results = run["results"]
    assert len(run["tool"]["driver"]["rules"]) == len([r for r in catalog().rules if "docker" in r.backends])
    suppressed = [r for r in results if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["privileged"]
    assert all(r["partialFingerprints"]["containerInventoryFinding/v2"] for r in results)
    path = tmp_path / "posture.sarif"
    path.write_text(json.dumps(doc))
    problems = multitool_validate(path)
    assert [(p["ruleId"], p.get("level"), p["message"].get("arguments")) for p in problems] == []


def test_the_multitool_catches_a_broken_log(tmp_path: Path) -> None:
    path = tmp_path / "broken.sarif"
    path.write_text(json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [{}]}]}))
    problems = multitool_validate(path)
    assert any(p.get("level", "warning") == "error" for p in problems)


def test_junit_as_jenkins_reads_it(waived_client: Any, tmp_path: Path) -> None:
    path = tmp_path / "posture.xml"
    path.write_bytes(waived_client.get("/api/posture?all=true&format=junit").data)
    xml = JUnitXml.fromfile(str(path))
    suites = {s.name: s for s in xml}
    legacy = suites["local/legacy-db"]
    results = {case.name: case.result for case in legacy}
    assert isinstance(results["privileged"][0], Skipped)  # waived: neither failure nor lost
    assert isinstance(results["run-as-root"][0], Failure) and results["run-as-root"][0].type == "HIGH"
    assert legacy.tests == len(results) and legacy.failures == sum(
        1 for r in results.values() if r and isinstance(r[0], Failure)
    )
    body = waived_client.get("/api/posture?all=true").json
    assert xml.failures == sum(sum(c["totals"].values()) for c in body["containers"]) and xml.skipped == body["waived"]


def test_cis_v1_8_with_the_v1_6_crosswalk_in_sarif_and_junit(waived_client: Any) -> None:
    sarif = waived_client.get("/api/posture?format=sarif&all=true").json
    rule = next(r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "host-pid")
    assert rule["properties"]["references"]["cis"] == "5.16" and rule["properties"]["references"]["cis_v1_6"] == "5.16"
    assert "CIS Docker Benchmark v1.8.0 5.16 (v1.6.0 5.16)" in rule["help"]["text"]
    assert "cis_v1_6" not in rule["properties"]["tags"]
    junit = waived_client.get("/api/posture?format=junit&all=true").data.decode()
    assert "CIS Docker Benchmark v1.8.0 5.16 (v1.6.0 5.16)" in junit


def test_rules_endpoint_lists_the_catalog(client: Any) -> None:
    body = client.get("/api/rules").json
    assert body["count"] == len(catalog().rules) >= 30
    rule = next(r for r in body["rules"] if r["id"] == "seccomp-unconfined")
    assert rule["references"]["cis"] == "5.22" and rule["references"]["pss"]["level"] == "baseline"
    assert rule["remediation"] and rule["backends"] == ["docker", "kubernetes"]


def test_container_detail_shows_remediation_and_references(client: Any) -> None:
    finding = next(f for f in client.get("/api/containers/legacy-db").json["findings"] if f["rule"] == "host-pid")
    assert finding["remediation"] and finding["references"] == {
        "cis": "5.16",
        "cis_v1_6": "5.16",
        "pss": {"level": "baseline", "control": "Host Namespaces"},
        "nsa": "Kubernetes Pod security / Hardening container environments",
    }


# --- inventory-scan -------------------------------------------------------------------------------------------

BAD_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: app, image: nginx, securityContext: {privileged: true}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: job, image: "busybox:1.36"}]
"""


def scan(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    exe = shutil.which("inventory-scan")
    cmd = [exe] if exe else [sys.executable, "-m", "inventory.cli.scan"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "api")}
    return subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_inventory_scan_is_a_console_script() -> None:
    exe = shutil.which("inventory-scan") or str(Path(sys.executable).parent / "inventory-scan")
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--fail-on" in proc.stdout


def test_inventory_scan_manifests_fail_on(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(BAD_DEPLOYMENT)
    table = scan("manifests", str(manifest))
    assert table.returncode == 0 and "shop/web/app" in table.stdout and "shop/report/job" in table.stdout
    gate = scan("manifests", str(manifest), "--fail-on", "critical")
    assert gate.returncode == 1 and "at or above CRITICAL" in gate.stderr
    report = json.loads(scan("manifests", str(manifest), "--format", "json").stdout)
    web = next(c for c in report["containers"] if c["name"] == "shop/web/app")
    assert {"privileged", "run-as-root", "mutable-image-tag"} <= {f["rule"] for f in web["findings"]}
    waivers = tmp_path / "w.yaml"
    waivers.write_text(WAIVERS.replace("legacy-db", "shop/web/*"))
    assert scan("manifests", str(manifest), "--waivers", str(waivers), "--fail-on", "CRITICAL").returncode == 0
    sarif = tmp_path / "scan.sarif"
    assert scan("manifests", str(manifest), "--format", "sarif", "-o", str(sarif)).returncode == 0
    assert multitool_validate(sarif) == []


def test_inventory_scan_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = scan("manifests", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "cannot read" in missing.stderr
    broken = tmp_path / "b.yaml"
    broken.write_text("kind: [")
    assert scan("manifests", str(broken)).returncode == 2
    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers: nope")
    bad = scan("manifests", str(broken), "--waivers", str(waivers))
    assert bad.returncode == 2 and "WAIVER_FILE" in bad.stderr
