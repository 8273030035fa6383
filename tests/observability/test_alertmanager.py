"""(2) Alertmanager: amtool check-config, amtool routes test, and a real Alertmanager delivering
to a local receiver with the real routing tree and inhibition rule."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from .support import (
    ALERTMANAGER_CONFIG,
    Alertmanager,
    Recorder,
    alertmanager_config_for_test,
    binary,
    checkable_alertmanager_config,
    http_json,
    wait_until,
)

ROUTES = yaml.safe_load((ALERTMANAGER_CONFIG.parent / "tests" / "routes.yaml").read_text())["cases"]


def test_amtool_check_config(tmp_path: Path) -> None:
    for config in (ALERTMANAGER_CONFIG, checkable_alertmanager_config(tmp_path)):
        out = subprocess.run([binary("amtool"), "check-config", str(config)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "SUCCESS" in out.stdout and "1 templates" in out.stdout


def test_amtool_check_config_parses_the_template(tmp_path: Path) -> None:
    """The check is not a no-op: a broken template next to the config makes amtool fail."""
    config = checkable_alertmanager_config(tmp_path)
    text = config.read_text().replace(str(ALERTMANAGER_CONFIG.parent), str(tmp_path))
    config.write_text(text)
    (tmp_path / "broken.tmpl").write_text('{{ define "x" }}{{ .Foo }')
    out = subprocess.run([binary("amtool"), "check-config", str(config)], capture_output=True, text=True)
    assert out.returncode != 0 and "broken.tmpl" in out.stdout + out.stderr


def test_config_holds_no_secret_urls() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    for receiver in config["receivers"]:
        for kind, entries in receiver.items():
            if kind == "name":
                continue
            for entry in entries:
                assert not {"url", "api_url", "routing_key", "service_key"} & set(entry), (receiver["name"], entry)


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c["labels"]["alertname"])
def test_amtool_routes(case: dict) -> None:
    labels = [f"{k}={v}" for k, v in case["labels"].items()]
    argv = [
        binary("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        "--verify.receivers=" + ",".join(case["receivers"]),
        *labels,
    ]
    out = subprocess.run(argv, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_amtool_routes_test_can_fail() -> None:
    argv = [
        binary("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        "--verify.receivers=team-chat",
        "severity=critical",
        "alertname=NginxDown",
    ]
    assert subprocess.run(argv, capture_output=True, text=True).returncode != 0


def _alert(name: str, severity: str, namespace: str) -> dict:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "severity": severity, "namespace": namespace},
        "annotations": {
            "summary": f"{name} test",
            "description": "from the observability suite",
            "runbook_url": "https://example.invalid/runbook",
        },
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }


def test_real_alertmanager_routes_and_inhibits(tmp_path: Path) -> None:
    with Recorder() as rec:
        config = alertmanager_config_for_test(tmp_path, rec.url)
        with Alertmanager(tmp_path, config).run() as am:
            http_json(
                f"{am.url}/api/v2/alerts",
                [
                    _alert("InventoryBackendUnreachable", "critical", "inv"),
                    _alert("NginxUpstreamErrors", "warning", "inv"),  # inhibited by the critical one
                ],
            )
            wait_until(lambda: len(http_json(f"{am.url}/api/v2/alerts")) == 2, 30, "both alerts received")
            # Then a warning of another namespace, routed like the inhibited one (team chat, same group_wait) but
            # in a group made later: once its notification is here, the inhibited alert's group has been flushed
            # too, so a wrongly routed or un-inhibited notification would be here as well.
            http_json(f"{am.url}/api/v2/alerts", [_alert("InventoryHighPostureFinding", "warning", "other")])
            oncall = wait_until(lambda: rec.received("/slack/oncall"), 30, "on-call chat notification")
            pager = wait_until(lambda: rec.received("/pagerduty"), 30, "pager notification")
            team = wait_until(lambda: rec.received("/slack/team"), 30, "team chat notification")

            alerts = {a["labels"]["alertname"]: a for a in http_json(f"{am.url}/api/v2/alerts")}
            assert alerts["NginxUpstreamErrors"]["status"]["state"] == "suppressed"
            assert alerts["NginxUpstreamErrors"]["status"]["inhibitedBy"]
            assert alerts["InventoryHighPostureFinding"]["status"]["state"] == "active"

    assert "InventoryBackendUnreachable" in oncall[0]["attachments"][0]["title"]
    assert oncall[0]["channel"] == "#inventory-oncall"
    assert pager[0]["routing_key"] == "test-routing-key-not-a-secret"
    assert pager[0]["payload"]["severity"] == "critical"
    team_text = " ".join(m["attachments"][0]["title"] for m in rec.received("/slack/team"))
    assert "InventoryHighPostureFinding" in team_text and "NginxUpstreamErrors" not in team_text
    assert team[0]["channel"] == "#inventory-alerts"
