"""Admission policy mode per environment: the env's values file picks Deny/Warn/Audit through the namespace label,
and the generated bindings (VAP) and policies (Kyverno) turn that label into what really happens to a bad pod."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ENVS, one, render
from .model.admission import effect, generated_policies, verdict

# What each environment must do with a violating pod (issue 9: Audit or Warn in dev, Deny in prod; minikube is
# the local rehearsal of prod).
EXPECTED = {"minikube": "reject", "dev": "admit", "prod": "reject"}


_generated = generated_policies


def mode_problems(env: str, namespace: dict[str, Any], policies: list[dict[str, Any]]) -> list[str]:
    e, got = effect(namespace, policies), verdict(namespace, policies)
    problems = [] if got == EXPECTED[env] else [f"{env}: a violating pod is {got}ed, must be {EXPECTED[env]}ed"]
    if got == "admit" and not ({"Warn", "Audit"} & e["vap"]):
        problems.append(f"{env}: violations are admitted silently (no Warn/Audit)")
    return problems


def _namespace(env: str, *sets: str) -> dict[str, Any]:
    return one(render(env, "namespace.create=true", *sets), "Namespace", "container-inventory")


@pytest.mark.parametrize("env", ENVS)
def test_each_environment_gets_its_admission_mode(env):
    namespace = _namespace(env)
    assert mode_problems(env, namespace, _generated()) == []
    e = effect(namespace, _generated())
    assert e["vap"] and e["kyverno"], "both engines must see the namespace"


def test_dev_warns_and_audits_prod_denies():
    assert effect(_namespace("dev"), _generated()) == {"vap": {"Warn", "Audit"}, "kyverno": {"Audit"}}
    prod = effect(_namespace("prod"), _generated())
    # Kyverno also audits in prod: the catalog's audit-only rules (e.g. image-not-pinned) never deny
    assert prod["vap"] == {"Deny", "Audit"} and "Enforce" in prod["kyverno"]


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ("prod", "namespace.admissionMode=Warn"),
        ("dev", "namespace.admissionMode=Deny"),
        ("prod", "namespace.admissionMode=Audit"),
    ],
)
def test_mode_check_fails_when_a_values_file_picks_the_wrong_mode(env, setting):
    assert mode_problems(env, _namespace(env, setting), _generated())


def test_mode_check_fails_when_the_policies_lose_a_binding():
    policies = [d for d in _generated() if d["metadata"]["name"] != "container-inventory-restricted-deny"]
    policies = [d for d in policies if not (d["kind"] == "ClusterPolicy" and "audit" not in d["metadata"]["name"])]
    assert verdict(_namespace("prod"), policies) == "unchecked"
    assert mode_problems("prod", _namespace("prod"), policies)
