"""(1) Alert rules: promtool check/test (real binary) and the contract every alert must meet."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.contracts import ALERT_NAMES

from .support import MONITORING, ROOT, RULES, binary

TESTS_DIR = MONITORING / "alerts" / "tests"
RUNBOOK_BASE = "https://github.com/container-inventory/container-inventory/blob/main/docs/RUNBOOKS.md#"
EXPECTED_ALERTS = set(ALERT_NAMES)


def _alerts() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules() -> None:
    out = subprocess.run([binary("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in out.stdout


def test_promtool_unit_tests_pass() -> None:
    files = sorted(TESTS_DIR.glob("*.yaml"))
    assert files, "no promtool unit tests found"
    out = subprocess.run([binary("promtool"), "test", "rules", *map(str, files)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """Guard against tests that cannot fail: a broken threshold must make promtool red."""
    broken = tmp_path / "rules.yaml"
    broken.write_text(RULES.read_text().replace("expr: nginx_up == 0", "expr: nginx_up == 1"))
    test = tmp_path / "t.yaml"
    unit = (TESTS_DIR / "platform-alerts-test.yaml").read_text()
    test.write_text(unit.replace("../inventory-rules.yaml", str(broken)))
    out = subprocess.run([binary("promtool"), "test", "rules", str(test)], capture_output=True, text=True)
    assert out.returncode != 0 and "NginxDown" in out.stdout + out.stderr


def test_alert_set_matches_contract() -> None:
    names = [a["alert"] for a in _alerts()]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert set(names) == EXPECTED_ALERTS


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_alert_has_severity_and_annotations(alert: dict) -> None:
    assert alert["labels"]["severity"] in {"critical", "warning"}
    ann = alert["annotations"]
    assert ann["summary"].strip() and ann["description"].strip()
    assert ann["runbook_url"] == RUNBOOK_BASE + alert["alert"].lower()


def test_every_alert_has_firing_and_silent_unit_tests() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for path in TESTS_DIR.glob("*.yaml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    assert fires >= EXPECTED_ALERTS, f"alerts never tested firing: {EXPECTED_ALERTS - fires}"
    assert silent >= EXPECTED_ALERTS, f"alerts never tested silent: {EXPECTED_ALERTS - silent}"


def test_runbook_sections_exist() -> None:
    runbooks = ROOT / "docs" / "RUNBOOKS.md"
    if not runbooks.exists():
        pytest.fail("docs/RUNBOOKS.md is missing")
    headings = set(re.findall(r"^### (\S+)\s*$", runbooks.read_text(), flags=re.M))
    missing = EXPECTED_ALERTS - headings
    assert not missing, f"docs/RUNBOOKS.md lacks '### <AlertName>' sections for {sorted(missing)}"


# The chart ships these rules through files/inventory-rules.yaml (a symlink that `helm package` resolves): that the
# packaged chart's PrometheusRule carries exactly this file is checked by rendering it, in
# tests/k8s/test_chart.py::test_packaged_chart_ships_the_monitoring_lanes_alert_rules (with a stale-copy mutation).
