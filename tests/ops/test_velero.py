"""deploy/velero/values.yaml: every stateful component is covered by a schedule with a valid cron and retention."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

VALUES = Path(__file__).resolve().parents[2] / "deploy" / "velero" / "values.yaml"
# component -> (namespace, label key, label value, backup method)
STATEFUL = {
    "prometheus": ("monitoring", "app.kubernetes.io/name", "prometheus", "snapshot"),
    "alertmanager": ("monitoring", "app.kubernetes.io/name", "alertmanager", "fs"),
    "grafana": ("monitoring", "app.kubernetes.io/name", "grafana", "fs"),
    "opensearch": ("logging", "app.kubernetes.io/name", "opensearch", "snapshot"),
    "history-db": ("container-inventory", "app.kubernetes.io/name", "recorder", "fs"),
}
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def cron_ok(expr: str) -> bool:
    fields = expr.split()
    if len(fields) != 5:
        return False
    for field, (lo, hi) in zip(fields, CRON_RANGES, strict=True):
        for part in field.split(","):
            m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
            if not m:
                return False
            nums = [int(n) for n in (m[2], m[3]) if n is not None]
            if any(not lo <= n <= hi for n in nums) or (m[4] is not None and int(m[4]) < 1):
                return False
    return True


def test_cron_validator_rejects_nonsense():
    assert cron_ok("0 */6 * * *") and cron_ok("15 1 * * 1-5")
    assert not cron_ok("61 * * * *") and not cron_ok("* * *") and not cron_ok("0 0 32 * *")


def _selects(template: dict, key: str, value: str) -> bool:
    selectors = [template.get("labelSelector"), *(template.get("orLabelSelectors") or [])]
    return any((s or {}).get("matchLabels", {}).get(key) == value for s in selectors)


@pytest.mark.parametrize("component", sorted(STATEFUL))
def test_every_stateful_component_has_a_schedule(values, component):
    namespace, key, value, method = STATEFUL[component]
    matching = [
        (name, s)
        for name, s in values["schedules"].items()
        if namespace in s["template"].get("includedNamespaces", []) and _selects(s["template"], key, value)
    ]
    assert matching, f"no Velero schedule backs up {component}"
    for name, schedule in matching:
        template = schedule["template"]
        assert not schedule.get("disabled"), name
        assert cron_ok(schedule["schedule"]), f"{name}: bad cron {schedule['schedule']!r}"
        assert re.fullmatch(r"\d+h", template["ttl"]) and int(template["ttl"][:-1]) >= 72, name
        if method == "fs":
            assert template.get("defaultVolumesToFsBackup") is True, name
        else:
            assert template.get("snapshotVolumes") is True, name


def test_storage_and_node_agent_are_consistent(values):
    locations = {loc["name"] for loc in values["configuration"]["backupStorageLocation"]}
    for name, schedule in values["schedules"].items():
        assert schedule["template"]["storageLocation"] in locations, name
    assert values["deployNodeAgent"] is True  # required by the file-system backups
    assert "EnableCSI" in values["configuration"]["features"]  # required by the CSI snapshots
    credentials = values["credentials"]
    assert credentials["useSecret"] is True
    assert credentials["existingSecret"] == "velero-credentials"  # pragma: allowlist secret
    assert not re.search(r"(?i)aws_secret_access_key|secretkey\s*:", VALUES.read_text())


def test_velero_runs_hardened(values):
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    ctx = values["containerSecurityContext"]
    assert (
        ctx["readOnlyRootFilesystem"] and not ctx["allowPrivilegeEscalation"] and ctx["capabilities"]["drop"] == ["ALL"]
    )
    assert ":" in values["initContainers"][0]["image"] and not values["image"]["tag"].startswith("latest")


# Namespaces something in this repository installs into, and the file that says so. Jenkins is not one: it runs
# in Docker Compose (jenkins/compose.yaml, its home the jenkins_home volume, backed up with `invops volume`).
ROOT = VALUES.parents[2]
INSTALLED = {
    "monitoring": ROOT / "deploy" / "scripts" / "lib.sh",
    "logging": ROOT / "deploy" / "monitoring" / "scripts" / "logging-up.sh",
    "container-inventory": ROOT / "deploy" / "scripts" / "deploy.sh",
}


def test_schedules_back_up_only_namespaces_something_installs_into(values):
    for ns, source in INSTALLED.items():
        assert re.search(rf"\b{ns}\b", source.read_text()), f"{source} no longer names namespace {ns}"
    for name, schedule in values["schedules"].items():
        for ns in schedule["template"].get("includedNamespaces", []):
            assert ns in INSTALLED, f"schedule {name} backs up namespace {ns}, which nothing here installs into"


def test_velero_chart_version_is_pinned_in_the_one_pin_file():
    pins = dict(
        line.split("=", 1) for line in (ROOT / "deploy" / "versions.env").read_text().splitlines() if "=" in line
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins.get("VELERO_CHART_VERSION", "")), "VELERO_CHART_VERSION missing"
    for path in (VALUES, ROOT / "docs" / "RUNBOOKS.md"):
        text = path.read_text()
        assert not re.search(r"vmware-tanzu/velero[^\n]*--version [0-9]", text), f"{path}: a literal chart version"
        assert "VELERO_CHART_VERSION" in text, f"{path}: install command does not use VELERO_CHART_VERSION"
