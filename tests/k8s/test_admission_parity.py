"""The same verdict at runtime, in manifests and at admission: every Kubernetes case of the posture rules
goes through the API's engine (inventory-scan on the pods: the real trim -> Security -> checks path, in .venv)
and through the generated admission CEL (both CEL engines, tests/support/cel.py); the verdicts must be
identical rule by rule, and equal to what the case file says it breaks
(api/inventory/posture/rules/<rule>/{fail,pass}/kubernetes*.yaml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.support.cel import load_policy

from .conftest import ROOT

POLICY = load_policy()
ENVELOPE = {"allowed-registry"}  # install rules (rules.yaml), not posture rules: no engine counterpart
API_PYTHON = ROOT / ".venv" / "bin" / "python"


def _api(code_or_args: list[str], stdin: str = "") -> str:
    python = str(API_PYTHON) if API_PYTHON.exists() else sys.executable
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(ROOT / "api"), str(ROOT)))}  # tests.support.rule_cases
    proc = subprocess.run([python, *code_or_args], input=stdin, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _cases() -> list[dict[str, Any]]:
    code = (
        "import json; from tests.support.rule_cases import pod_cases; "
        "print(json.dumps([{'case': c, 'rule': r, 'pod': p, 'expected': sorted(e)} for c, r, p, e in pod_cases()]))"
    )
    return json.loads(_api(["-c", code]))


CASES = _cases()


@pytest.fixture(scope="module")
def engine_verdicts() -> dict[str, set[str]]:
    """inventory-scan over all fixture pods at once; container targets are fixtures/<case>/app."""
    pods = {"apiVersion": "v1", "kind": "List", "items": [c["pod"] for c in CASES]}
    report = json.loads(_api(["-m", "inventory.cli.scan", "manifests", "-", "--format", "json"], json.dumps(pods)))
    verdicts: dict[str, set[str]] = {}
    for container in report["containers"]:
        case = container["name"].split("/")[1]
        verdicts[case] = {f["rule"] for f in container["findings"]}
    return verdicts


def test_every_pod_rule_has_fixtures_on_both_sides():
    rules = {c["rule"] for c in CASES if c["rule"]}
    admission = {rule_id for rule_id, _ in POLICY.rules} - ENVELOPE
    assert rules == admission and len(rules) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_engine_and_admission_agree(case, engine_verdicts):
    admission = POLICY.violations(case["pod"]) - ENVELOPE  # both CEL engines, which must agree with each other
    engine = engine_verdicts[case["case"]]
    assert engine == admission, f"engine {sorted(engine)} vs admission {sorted(admission)}"
    assert engine == set(case["expected"])
