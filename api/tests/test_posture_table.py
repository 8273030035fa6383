"""inventory-scan's text output, exactly: one aligned row per finding (most severe first, the waiver's end date
in its own column), the totals line and one line per expired waiver, so a person reading a terminal or a CI
log sees every finding and every waiver that no longer applies."""

from __future__ import annotations

from datetime import date

from inventory.posture import Target, Waiver, evaluate_container
from inventory.posture.engine import build_report
from inventory.posture.formats import to_table
from test_sarif_meaning import CONTAINER, FLAWED, WAIVER

EXPIRED = Waiver("privileged", Target(name="web"), "lab only", "team-b", date(2020, 1, 1))


def test_the_table_lists_findings_totals_and_expired_waivers() -> None:
    container = evaluate_container(CONTAINER, FLAWED, "docker", waivers=[WAIVER, EXPIRED])
    report = build_report("local", "docker", [container], waivers=[WAIVER, EXPIRED])
    assert to_table(report) == (
        "SEVERITY  RULE             TARGET  WAIVED\n"
        "CRITICAL  privileged       web\n"
        "HIGH      run-as-root      web\n"
        "MEDIUM    writable-rootfs  web     until 2999-01-01\n"
        "LOW       no-healthcheck   web\n"
        "\n"
        "1 containers, score 44 (D); CRITICAL 1, HIGH 1, MEDIUM 0, LOW 1; waived 1\n"
        "expired waiver: privileged {'name': 'web'} (owner team-b, expired 2020-01-01)\n"
    )


def test_a_clean_report_is_the_header_and_the_totals() -> None:
    report = build_report("local", "docker", [], waivers=[])
    assert to_table(report) == (
        "SEVERITY  RULE  TARGET  WAIVED\n\n0 containers, score 100 (A); CRITICAL 0, HIGH 0, MEDIUM 0, LOW 0; waived 0\n"
    )
