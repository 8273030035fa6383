"""Posture verdicts at their edges: which host paths count as sensitive mounts (the root however it is
written, a directory itself and anything under it, but no look-alike), on-failure restart limits at the
bottom of the allowed range, the overall score's rounding and grading, and self-declared expired waivers in
the report."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
from inventory.model import Mount, Security
from inventory.posture import Score, evaluate_container, overall_score
from inventory.posture.catalog import Catalog
from inventory.posture.engine import build_report, container_score
from inventory.posture.waivers import Target, Waiver
from test_posture import CONTAINER, HARDENED, rules


def mounting(source: str) -> Security:
    return dataclasses.replace(HARDENED, mounts=[Mount("bind", source, "/host", read_only=True)])


@pytest.mark.parametrize("source", ["/", "//", "/etc", "/etc/", "/etc/ssl/certs", "/proc/1", "/usr/lib"])
def test_a_sensitive_host_path_is_a_finding(source: str) -> None:
    assert "sensitive-host-mount" in rules(mounting(source))


@pytest.mark.parametrize("source", ["/srv/data", "/etcetera", "/X", "/home/app/"])
def test_another_host_path_is_not_sensitive(source: str) -> None:
    assert "sensitive-host-mount" not in rules(mounting(source))


@pytest.mark.parametrize(("retries", "unbounded"), [(0, True), (1, False), (5, False), (6, True)])
def test_on_failure_retries_from_one_to_five_are_bounded(retries: int, unbounded: bool) -> None:
    sec = dataclasses.replace(HARDENED, restart_policy="on-failure", restart_max_retries=retries)
    assert ("restart-policy" in rules(sec)) is unbounded


def test_the_overall_score_is_the_mean_to_one_decimal() -> None:
    assert overall_score([Score(100.0, "A"), Score(100.0, "A"), Score(99.0, "A")]) == Score(99.7, "A")


def test_the_overall_grade_comes_from_the_given_catalog() -> None:
    strict = Catalog(rules=(), weights={}, grades=(("pass", 99.9), ("fail", 0.0)), baselines={})
    assert overall_score([Score(100.0, "A"), Score(99.0, "A")], strict) == Score(99.5, "fail")


def test_an_expired_self_waiver_is_listed_in_the_report() -> None:
    value = json.dumps({"reason": "lab box", "owner": "team-x", "expires": "2020-01-01"})
    sec = dataclasses.replace(HARDENED, privileged=True, labels={"container-inventory.io/waive.privileged": value})
    container = evaluate_container(CONTAINER, sec, "docker", allow_self_waivers=True)
    report = build_report("local", "docker", [container], waivers=[])
    assert report.expired_waivers == [
        Waiver("privileged", Target(), "lab box", "team-x", date(2020, 1, 1), "label"),
    ]


def test_a_container_grade_comes_from_the_given_catalog() -> None:
    strict = Catalog(rules=(), weights={"LOW": 1}, grades=(("pass", 100.0), ("fail", 0.0)), baselines={})
    container = evaluate_container(CONTAINER, dataclasses.replace(HARDENED, healthcheck=False), "docker")
    assert container_score(container.findings, strict) == Score(99.0, "fail")


def test_a_file_waiver_for_a_label_covers_the_container_with_that_label() -> None:
    labelled = dataclasses.replace(CONTAINER, labels={"tier": "db"})
    waiver = Waiver("privileged", Target(labels={"tier": "db"}), "lab box", "team-x", date(2999, 1, 1))
    sec = dataclasses.replace(HARDENED, privileged=True)
    (finding,) = evaluate_container(labelled, sec, "docker", waivers=[waiver]).findings
    assert finding.waiver == waiver
    (other,) = evaluate_container(CONTAINER, sec, "docker", waivers=[waiver]).findings
    assert other.waiver is None


def test_a_kubernetes_self_waiver_is_an_annotation() -> None:
    value = json.dumps({"reason": "lab box", "owner": "team-x", "expires": "2999-01-01"})
    sec = dataclasses.replace(HARDENED, privileged=True, labels={"container-inventory.io/waive.privileged": value})
    report = evaluate_container(CONTAINER, sec, "kubernetes", allow_self_waivers=True)
    waiver = next(f.waiver for f in report.findings if f.rule == "privileged")
    assert waiver is not None and waiver.origin == "annotation"
