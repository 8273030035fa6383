"""Waiver file loading (schema, one-line errors, exit 2 at startup), self-waivers, expiry, metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import RecordedBackend, make_app
from inventory.config import ConfigError
from inventory.posture import catalog, evaluate_container, load_waiver_file
from inventory.posture.waivers import WaiverFileError
from inventory.wiring import configure
from test_posture import CONTAINER, HARDENED

RULES = {r.id for r in catalog().rules}
ROOT = Path(__file__).resolve().parents[2]
GOOD = """
version: 1
selfWaivers: forbid
waivers:
  - rule: privileged
    target: {name: "legacy-*"}
    reason: vendor appliance, replacement scheduled
    owner: team-db
    expires: "2999-01-01"
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return str(path)


def test_valid_file(tmp_path: Path) -> None:
    policy = load_waiver_file(write(tmp_path, GOOD), RULES, allow_self_waivers=True)
    (w,) = policy.waivers
    assert (w.rule, w.target.name, w.owner, w.expires) == ("privileged", "legacy-*", "team-db", date(2999, 1, 1))
    assert policy.self_waivers is False  # the file forbids them even though the operator allows them


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("waivers: [", "not valid YAML/JSON line"),
        ("{}", "(top level): 'waivers' is a required property"),
        (GOOD.replace("    owner: team-db\n", ""), "waivers/0: 'owner' is a required property"),
        (GOOD.replace('"2999-01-01"', '"next year"'), "waivers/0/expires: 'next year' does not match"),
        (GOOD.replace('"2999-01-01"', '"2999-02-30"'), "waivers/0/expires: '2999-02-30' is no date"),
        (GOOD.replace("rule: privileged", "rule: no-such-rule"), "unknown rule 'no-such-rule'"),
        (GOOD.replace('target: {name: "legacy-*"}', "target: {}"), "waivers/0/target: {} should be non-empty"),
        (GOOD.replace("reason: vendor appliance, replacement scheduled", "reason: x"), "waivers/0/reason"),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(WaiverFileError) as err:
        load_waiver_file(write(tmp_path, text), RULES)
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError):
        configure({"WAIVER_FILE": write(tmp_path, text)})


def test_missing_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        configure({"WAIVER_FILE": "/nonexistent/waivers.yaml"})


def test_malformed_waiver_file_stops_startup_with_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "WAIVER_FILE": write(tmp_path, "waivers: 3"), "PYTHONPATH": str(ROOT / "api")}
    proc = subprocess.run([sys.executable, "-c", "import inventory.wsgi"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"inventory: invalid configuration: WAIVER_FILE {env['WAIVER_FILE']}: waivers: 3 is not of type 'array'"
    ]


def test_self_waivers_count_only_when_allowed() -> None:
    import dataclasses

    value = '{"reason": "needs raw sockets for ping", "owner": "netops", "expires": "2999-01-01"}'
    label = "container-inventory.io/waive.added-capabilities"
    sec = dataclasses.replace(HARDENED, cap_add=["NET_RAW"], labels={label: value})
    off = evaluate_container(CONTAINER, sec, "docker")
    on = evaluate_container(CONTAINER, sec, "docker", allow_self_waivers=True)
    assert {f.rule: f.waived for f in off.findings} == {
        "added-capabilities": False,
        "capabilities-beyond-baseline": False,
    }
    waived = {f.rule: f.waiver for f in on.findings}
    assert waived["added-capabilities"].origin == "label" and waived["capabilities-beyond-baseline"] is None
    bad = dataclasses.replace(sec, labels={label: "not json"})
    assert not evaluate_container(CONTAINER, bad, "docker", allow_self_waivers=True).findings[0].waived


def test_backends_keep_raw_labels_and_posture_reads_the_waiver_requests() -> None:
    """The backends hand posture the labels / kept pod annotations as the engine reports them (no waiver parsing
    below posture); the engine finds the self-waiver in them, and the security view leaves the raw labels out."""
    import copy
    import json

    from conftest import load_fixture
    from inventory.backends.docker import detail_from_inspect
    from inventory.backends.kubernetes import security_from_pod, trim_pod

    value = '{"reason": "legacy appliance", "owner": "team-db", "expires": "2999-01-01"}'
    raw = load_fixture("inspect-insecure.json")
    raw["Config"]["Labels"] = {"tier": "db", "container-inventory.io/waive.privileged": value}
    detail = detail_from_inspect(raw)
    assert detail.security.labels == raw["Config"]["Labels"]
    assert "labels" not in detail.security.to_dict() and "waiver_requests" not in detail.security.to_dict()
    on = evaluate_container(detail.container, detail.security, "docker", allow_self_waivers=True)
    assert {f.rule: f.waiver.origin for f in on.findings if f.waiver} == {"privileged": "label"}

    pods = json.loads((ROOT / "api/tests/fixtures/k8s/podlist-page1.json").read_text())["items"]
    pod = copy.deepcopy(pods[0])
    pod["metadata"]["annotations"]["container-inventory.io/waive.run-as-root"] = value
    trimmed = trim_pod(pod)
    security = security_from_pod(trimmed, trimmed["spec"]["containers"][0])
    assert security.labels == {"container-inventory.io/waive.run-as-root": value}  # trim keeps only these


def test_api_marks_waived_and_expired_waivers(tmp_path: Path, backend: RecordedBackend) -> None:
    soon = date.today() + timedelta(days=3)
    text = GOOD.replace('"2999-01-01"', f'"{soon}"') + (
        "  - rule: run-as-root\n    target: {name: legacy-db}\n    reason: gone since the migration\n"
        "    owner: team-db\n    expires: '2000-01-01'\n"
    )
    client = make_app(backend, WAIVER_FILE=write(tmp_path, text)).test_client()
    body = client.get("/api/posture?all=true").get_json()
    legacy = next(c for c in body["containers"] if c["name"] == "legacy-db")
    by_rule = {f["rule"]: f for f in legacy["findings"]}
    assert by_rule["privileged"]["waived"] and by_rule["privileged"]["waiver"]["owner"] == "team-db"
    assert not by_rule["run-as-root"]["waived"] and by_rule["run-as-root"]["expired_waiver"]["expires"] == "2000-01-01"
    assert [w["rule"] for w in body["expired_waivers"]] == ["run-as-root"]
    assert legacy["waived"] == 1 and legacy["totals"]["CRITICAL"] == sum(
        1 for f in legacy["findings"] if f["severity"] == "CRITICAL" and not f["waived"]
    )
    detail = client.get("/api/containers/legacy-db").get_json()
    assert {f["rule"]: f["waived"] for f in detail["findings"]}["privileged"] is True
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'inventory_posture_waivers_expiring{owner="team-db",rule="privileged"} 1.0' in metrics
    assert "inventory_posture_waivers_expired 1.0" in metrics
    assert 'inventory_posture_findings{rule="privileged",severity="CRITICAL",source="local"}' in metrics
    assert "inventory_posture_score{grade=" in metrics
