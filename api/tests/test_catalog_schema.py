"""catalog.yaml follows catalog.schema.json, and every rule's case files (rules/<rule>/{fail,pass}/) are well
formed: named after a backend the rule applies to, valid against the schema's `case`, and naming real rules."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from inventory.posture import RULES, catalog
from inventory.posture.catalog import CATALOG_PATH, RULES_DIR, CatalogError, rule_cases
from jsonschema import Draft202012Validator

SCHEMA = json.loads(CATALOG_PATH.with_name("catalog.schema.json").read_text(encoding="utf-8"))
Draft202012Validator.check_schema(SCHEMA)
CATALOG: dict[str, Any] = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))


def errors(doc: Any, ref: str = "") -> list[str]:
    schema = {"$defs": SCHEMA["$defs"], "$ref": ref} if ref else SCHEMA
    validator = Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_shipped_catalog_follows_the_schema() -> None:
    assert errors(CATALOG) == []


def _broken(change: str) -> dict[str, Any]:
    doc = copy.deepcopy(CATALOG)
    rule = doc["rules"][0]
    if change == "unknown severity":
        rule["severity"] = "SEVERE"
    elif change == "unknown backend":
        rule["backends"] = ["docker", "lxc"]
    elif change == "no backends":
        rule["backends"] = []
    elif change == "missing remediation":
        del rule["remediation"]
    elif change == "blank title":
        rule["title"] = "  "
    elif change == "misspelt field":
        rule["limit"] = rule.pop("limits", "something")
    elif change == "inline fixtures are gone":
        rule["fixtures"] = {"docker": {"fail": {"--privileged": True}}}
    elif change == "pod rule without admission CEL":
        del rule["admission"]
    elif change == "docker-only rule with admission CEL":
        docker_only = next(r for r in doc["rules"] if r["backends"] == ["docker"])
        docker_only["admission"] = {"message": "m", "expression": "true"}
    elif change == "unknown admission action":
        rule["admission"]["action"] = "deny"
    elif change == "CIS reference not a section number":
        rule["references"]["cis"] = "five"
    elif change == "CIS v1.8.0 id without its v1.6.0 crosswalk":
        del rule["references"]["cis_v1_6"]
    elif change == "PSS level":
        rule["references"]["pss"]["level"] = "privileged"
    elif change == "rule id not a DNS label":
        rule["id"] = "Privileged_Container"
    elif change == "weight missing":
        del doc["weights"]["LOW"]
    elif change == "grade without minimum":
        del doc["grades"][0]["min"]
    elif change == "baseline pod not a Pod":
        doc["baselines"]["kubernetes"]["kind"] = "Deployment"
    else:
        raise AssertionError(change)
    return doc


BROKEN = [
    "unknown severity",
    "unknown backend",
    "no backends",
    "missing remediation",
    "blank title",
    "misspelt field",
    "inline fixtures are gone",
    "pod rule without admission CEL",
    "docker-only rule with admission CEL",
    "unknown admission action",
    "CIS reference not a section number",
    "CIS v1.8.0 id without its v1.6.0 crosswalk",
    "PSS level",
    "rule id not a DNS label",
    "weight missing",
    "grade without minimum",
    "baseline pod not a Pod",
]


@pytest.mark.parametrize("change", BROKEN)
def test_schema_rejects_a_broken_catalog(change: str) -> None:
    assert CATALOG["rules"][0]["id"] == "privileged"  # the edits above assume the first rule is a pod rule with PSS
    assert errors(_broken(change)), f"the schema accepts a catalog with {change}"


# ---- rules/<rule>/{fail,pass}/<backend>[-<variant>].yaml --------------------------------------------------------

CASE_FILES = sorted(p for p in RULES_DIR.rglob("*") if p.is_file() and p.name != "README.md")


def test_every_rule_has_a_folder_and_every_folder_a_rule() -> None:
    folders = {p.name for p in RULES_DIR.iterdir() if p.is_dir()}
    assert folders == {r.id for r in RULES}
    for rule in RULES:
        assert {p.name for p in (RULES_DIR / rule.id).iterdir()} <= {"fail", "pass"}, rule.id


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: str(p.relative_to(RULES_DIR)))
def test_case_file_is_well_formed(path: Path) -> None:
    rule_id, verdict = path.parent.parent.name, path.parent.name
    rule = catalog().by_id[rule_id]
    backend, _, variant = path.stem.partition("-")
    (case,) = [c for c in rule.cases if (c.verdict, c.backend, c.variant) == (verdict, backend, variant)]
    assert case.backend in rule.backends, f"{path}: {rule_id} does not apply to {case.backend}"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert errors(doc, "#/$defs/case") == []
    assert errors(doc["deviation"], f"#/$defs/{case.backend}Deviation") == []
    assert set(case.also) <= {r.id for r in RULES} - {rule_id}, f"{path}: also names an unknown rule"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_fails_on_every_backend_it_applies_to(rule: Any) -> None:
    failing = {c.backend for c in rule.cases if c.verdict == "fail"}
    assert failing == set(rule.backends)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("lxc.yaml", "deviation: {x: 1}\n", "named <backend>"),
        ("docker_two.yaml", "deviation: {x: 1}\n", "named <backend>"),
        ("docker.yaml", "also: [privileged]\n", "`deviation` mapping"),
        ("docker.yaml", "deviation: [--privileged]\n", "`deviation` mapping"),
    ],
)
def test_loader_rejects_a_malformed_case_file(tmp_path: Path, name: str, text: str, problem: str) -> None:
    (tmp_path / "r" / "fail").mkdir(parents=True)
    (tmp_path / "r" / "fail" / name).write_text(text)
    with pytest.raises(CatalogError, match=problem):
        rule_cases("r", tmp_path)


def test_loader_reads_variants_and_rejects_also_on_a_passing_case(tmp_path: Path) -> None:
    for verdict, name, text in [
        ("fail", "docker.yaml", "deviation: {--privileged: true}\nalso: [selinux-override]\n"),
        ("fail", "kubernetes-init.yaml", "deviation: {pod: {}}\n"),
        ("pass", "docker.yaml", "deviation: {--user: '1000'}\n"),
    ]:
        (tmp_path / "r" / verdict).mkdir(parents=True, exist_ok=True)
        (tmp_path / "r" / verdict / name).write_text(text)
    cases = rule_cases("r", tmp_path)
    assert [(c.id, c.backend, c.expected) for c in cases] == [
        ("r-fail", "docker", {"r", "selinux-override"}),
        ("r-fail-init", "kubernetes", {"r"}),
        ("r-pass", "docker", set()),
    ]
    (tmp_path / "s" / "pass").mkdir(parents=True)
    (tmp_path / "s" / "pass" / "docker.yaml").write_text("deviation: {--user: '1000'}\nalso: [privileged]\n")
    with pytest.raises(CatalogError, match="no `also`"):
        rule_cases("s", tmp_path)
