"""Exact verdicts of every catalog rule on every backend, in the unit lane, from the rules' case files (baseline and
every case of api/inventory/posture/rules/, near misses included: some capabilities dropped, on-failure:6, ...).

- Docker: the inspect answers the real engine gave for each fixture (`docker create` with the fixture's options,
  recorded by tests/integration/test_posture_docker.py, which also checks the recording is current), through the
  Docker normalisation (inspect -> Security) and the engine;
- Kubernetes pods: test_catalog.py (trim -> Security -> engine);
- manifests: `inventory-scan manifests` over each fixture pod as a Deployment's and as a CronJob's template.

A verdict is the exact set of violated rules: one more or one fewer is a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from inventory.backends.docker import detail_from_inspect
from inventory.cli.scan import main
from inventory.posture import catalog, violated

from tests.support.rule_cases import docker_cases, pod_cases

RECORDED = Path(__file__).parent / "fixtures" / "docker" / "posture-cases.json"
RECORD_HOW = "record it: RECORD_POSTURE_CASES=1 .venv/bin/pytest tests/integration/test_posture_docker.py"
DOCKER_CASES = docker_cases()
POD_CASES = pod_cases()


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    return json.loads(RECORDED.read_text())


def test_every_docker_case_is_recorded(recorded: dict[str, Any]) -> None:
    assert sorted(recorded) == sorted(c[0] for c in DOCKER_CASES), RECORD_HOW


@pytest.mark.parametrize(("case", "rule", "options", "expected"), DOCKER_CASES, ids=[c[0] for c in DOCKER_CASES])
def test_docker_inspect_verdicts(
    case: str, rule: str, options: dict[str, Any], expected: set[str], recorded: dict[str, Any]
) -> None:
    assert case in recorded, RECORD_HOW
    security = detail_from_inspect(recorded[case]).security
    assert {r.id for r in violated(security, "docker")} == expected


def test_near_misses_are_there() -> None:
    """The edges the catalog promises to test: each is a case in the verdict tables above."""
    docker = {c[0]: c for c in DOCKER_CASES}
    pods = {c[0]: c for c in POD_CASES}
    assert docker["capabilities-not-dropped-fail-some-dropped"][2]["--cap-drop"]  # some dropped, not ALL
    assert docker["restart-policy-fail-on-failure-6"][2]["--restart"] == "on-failure:6"
    assert docker["restart-policy-pass"][2]["--restart"] == "on-failure:5"
    assert docker["host-uts-fail"][2]["--uts"] == "host"
    some = pods["capabilities-not-dropped-fail-some-dropped"][2]["spec"]["containers"][0]["securityContext"]
    assert some["capabilities"]["drop"] and "ALL" not in some["capabilities"]["drop"]


def _as_workloads(case: str, pod: dict[str, Any]) -> list[dict[str, Any]]:
    meta = {"name": case, "namespace": "fixtures"}
    template = {"metadata": {"labels": {"app": case}}, "spec": pod["spec"]}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {"template": template}}
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {**meta, "name": f"{case}-cron"},
        "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}},
    }
    return [deployment, cron]


def test_manifest_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = [doc for case, _rule, pod, _expected in POD_CASES for doc in _as_workloads(case, pod)]
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    assert main(["manifests", str(path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    verdicts = {c["name"]: {f["rule"] for f in c["findings"]} for c in report["containers"]}
    expected = {}
    for case, _rule, _pod, rules in POD_CASES:
        expected[f"fixtures/{case}/app"] = rules
        expected[f"fixtures/{case}-cron/app"] = rules
    assert verdicts == expected
    kubernetes_rules = {r.id for r in catalog().rules if "kubernetes" in r.backends}
    assert {c[1] for c in POD_CASES if c[1]} == kubernetes_rules
