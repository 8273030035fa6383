"""inventory-scan as a baseline-aware gate and an evidence verifier, run as the real console script: a previous
SARIF or JSON report (a file or an http(s) URL on 127.0.0.1) is the baseline; only new findings fail `new:` gates;
resolved ones are listed; the SARIF with baselineState passes Microsoft's SARIF Multitool; bad input is one line."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import RecordedBackend, make_app
from inventory.evidence.envelope import load_signer, sign
from inventory.evidence.statement import build_statement
from test_evidence import keypair
from test_reports import multitool_validate, scan

WEB = """apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers:
    - {name: app, image: nginx@sha256:%s, securityContext: {privileged: true}}
"""
WORKER = """---
apiVersion: v1
kind: Pod
metadata: {name: worker, namespace: shop}
spec:
  hostNetwork: true
  containers:
    - {name: app, image: busybox@sha256:%s}
"""
D1, D2 = "1" * 64, "2" * 64


@pytest.fixture()
def reports(tmp_path: Path) -> dict[str, Path]:
    files = {"base": WEB % D1, "current": WEB % D1 + WORKER % D2, "fixed": WORKER % D2}
    out = {}
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
        out[name] = tmp_path / f"{name}.yaml"
    base = tmp_path / "base.sarif"
    assert scan("manifests", str(out["base"]), "--format", "sarif", "-o", str(base)).returncode == 0
    out["base.sarif"] = base
    return out


def test_new_gate_fails_only_on_what_is_new(reports: dict[str, Path], tmp_path: Path) -> None:
    current, base = str(reports["current"]), str(reports["base.sarif"])
    # all:critical fails on the old privileged pod; new:critical does not, new:high does (hostNetwork is HIGH).
    assert scan("manifests", current, "--fail-on", "critical").returncode == 1
    passed = scan("manifests", current, "--baseline", base, "--fail-on", "new:critical")
    assert passed.returncode == 0, passed.stderr
    out = tmp_path / "current.sarif"
    failed = scan(
        "manifests", current, "--baseline", base, "--fail-on", "new:high", "--format", "sarif", "-o", str(out)
    )
    assert failed.returncode == 1
    assert "new unwaived finding(s) at or above HIGH" in failed.stderr and failed.stderr.count("\n") == 1
    results = json.loads(out.read_text())["runs"][0]["results"]
    states = {(r["locations"][0]["logicalLocations"][0]["name"], r["ruleId"]): r["baselineState"] for r in results}
    assert states[("shop/worker/app", "host-network")] == "new"
    assert states[("shop/web/app", "privileged")] == "unchanged"
    assert multitool_validate(out) == []


def test_resolved_findings_are_listed_as_absent(reports: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "fixed.sarif"
    fixed = scan(
        "manifests", str(reports["fixed"]), "--baseline", str(reports["base.sarif"]), "--fail-on", "new:any",
        "--format", "sarif", "-o", str(out),
    )  # fmt: skip
    assert fixed.returncode == 1, "the worker's findings are all new"
    assert "baseline finding(s) resolved since" in fixed.stderr
    absent = [r for r in json.loads(out.read_text())["runs"][0]["results"] if r["baselineState"] == "absent"]
    assert {r["ruleId"] for r in absent} >= {"privileged"}
    assert multitool_validate(out) == []
    as_json = json.loads(scan("manifests", str(reports["fixed"]), "--baseline", str(out), "--format", "json").stdout)
    assert as_json["baseline"]["counts"]["new"] == 0, "a SARIF with absent results reads back without them"


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_baseline_from_a_url(reports: dict[str, Path], served: str) -> None:
    current = str(reports["current"])
    assert scan("manifests", current, "--baseline", f"{served}/base.sarif", "--fail-on", "new:critical").returncode == 0
    assert scan("manifests", current, "--baseline", f"{served}/base.sarif", "--fail-on", "new:high").returncode == 1
    missing = scan("manifests", current, "--baseline", f"{served}/nope.sarif", "--fail-on", "new:high")
    assert missing.returncode == 2 and "cannot fetch it" in missing.stderr and missing.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fail-on", "new:high"], "a new: gate needs --baseline"),
        (["--fail-on", "new:urgent"], "expected [new:|all:]<any|"),
        (["--baseline", "/nonexistent/base.sarif"], "cannot read it"),
        (["--baseline", "history:2026-12-01T00:00Z"], "give a file or an http(s) URL"),
    ],
)
def test_bad_gates_and_baselines_are_one_line_exit_2(reports: dict[str, Path], extra: list[str], message: str) -> None:
    bad = scan("manifests", str(reports["current"]), *extra)
    assert bad.returncode == 2 and message in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr


def test_verify_evidence(tmp_path: Path, backend: RecordedBackend) -> None:
    service = make_app(backend).extensions["inventory"]
    statement = build_statement(
        service.posture(include_stopped=True),
        {c.id: c.image_id for c in service.containers(include_stopped=True)},
        [],
        datetime(2026, 12, 7, tzinfo=UTC),
    )
    key, pub = keypair(tmp_path, "ed25519")
    envelope = tmp_path / "evidence.json"
    envelope.write_text(json.dumps(sign(statement, load_signer(key))))
    ok = scan("verify-evidence", str(envelope), "--public-key", pub)
    assert ok.returncode == 0 and "verified" in ok.stdout and "containers" in ok.stdout, ok.stderr
    doc = json.loads(envelope.read_text())
    doc["signatures"][0]["sig"] = doc["signatures"][0]["sig"][::-1]
    envelope.write_text(json.dumps(doc))
    bad = scan("verify-evidence", str(envelope), "--public-key", pub)
    assert bad.returncode == 1 and "does not verify" in bad.stderr and bad.stderr.count("\n") == 1
    assert scan("verify-evidence", str(envelope)).returncode == 2
    assert scan("verify-evidence", str(tmp_path / "none.json"), "--public-key", pub).returncode == 2
