"""Loading a rule catalog file, exactly: what each rule entry becomes (texts normalised to one line, optional
fields defaulted, most severe first) and the one-line error a broken catalog gives. The repository's catalog
is loaded once per process (cached), so these tests load their own files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from inventory.posture.catalog import Catalog, CatalogError, Rule, load_catalog

FULL = {
    "id": "host-thing",
    "severity": "HIGH",
    "title": "  Shares a host thing \n",
    "rationale": "The host\n  thing is\tshared.\n",
    "remediation": " Do not\nshare it. ",
    "references": {"cis": "5.9", "cis_v1_6": "5.9", "nsa": "p.12"},
    "backends": ["docker", "kubernetes"],
    "limits": "The API\n cannot tell.",
    "admission": {"cel": "!has(object.spec.hostThing)"},
}
BARE = {"id": "bare", "severity": "LOW", "title": "Bare", "rationale": "r", "remediation": "m", "backends": ["docker"]}
CRITICAL = dict(BARE, id="worst", severity="CRITICAL")


def write(tmp_path: Path, *rules: dict[str, Any], **extra: Any) -> Path:
    doc = {"weights": {"CRITICAL": 40, "LOW": 1}, "grades": [{"grade": "A", "min": 90}, {"grade": "F", "min": 0}]}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({**doc, **extra, "rules": list(rules)}), encoding="utf-8")
    return path


def test_each_entry_becomes_a_rule_with_one_line_texts(tmp_path: Path) -> None:
    loaded = load_catalog(write(tmp_path, BARE, FULL, CRITICAL, baselines={"docker": {"--read-only": True}}))
    full = Rule(
        id="host-thing", severity="HIGH", title="Shares a host thing", rationale="The host thing is shared.",
        remediation="Do not share it.", references={"cis": "5.9", "cis_v1_6": "5.9", "nsa": "p.12"},
        backends=("docker", "kubernetes"),
        limits="The API cannot tell.", admission={"cel": "!has(object.spec.hostThing)"},
    )  # fmt: skip
    bare = Rule(
        id="bare", severity="LOW", title="Bare", rationale="r", remediation="m", references={}, backends=("docker",)
    )
    assert loaded == Catalog(
        rules=(Rule(**{**bare.__dict__, "id": "worst", "severity": "CRITICAL"}), full, bare),
        weights={"CRITICAL": 40, "LOW": 1},
        grades=(("A", 90.0), ("F", 0.0)),
        baselines={"docker": {"--read-only": True}},
    )
    assert bare.limits == "" and bare.admission is None
    assert load_catalog(write(tmp_path, BARE)).baselines == {}


def test_empty_optional_fields_are_defaults(tmp_path: Path) -> None:
    (rule,) = load_catalog(write(tmp_path, dict(BARE, references=None, limits=None))).rules
    assert rule.references == {} and rule.limits == ""


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (dict(BARE, severity="URGENT"), "rule 'bare': severity 'URGENT' not in ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW')"),
        ({k: v for k, v in BARE.items() if k != "severity"}, "rule 'bare': severity None not in ("),
        (dict(BARE, backends=[]), "rule 'bare': backends () must be a non-empty subset of ('docker', 'kubernetes')"),
        ({k: v for k, v in BARE.items() if k != "backends"}, "rule 'bare': backends () must be a non-empty subset"),
        (dict(BARE, backends=["docker", "podman"]), "rule 'bare': backends ('docker', 'podman') must be a non-empty"),
    ],
)
def test_a_broken_entry_is_named_with_what_is_wrong(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match="^" + re.escape(message)):
        load_catalog(write(tmp_path, FULL, entry))


def test_two_rules_with_one_id_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"^duplicate rule ids in the catalog$"):
        load_catalog(write(tmp_path, BARE, dict(BARE, severity="HIGH")))


def test_a_pipe_in_a_rule_text_stays_in_its_docs_table_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inventory.posture import docs

    piped = load_catalog(write(tmp_path, dict(BARE, limits="a | b"), FULL))
    monkeypatch.setattr(docs, "catalog", lambda: piped)
    rows = docs.table().splitlines()
    assert (
        rows[2]
        == "| `host-thing`: Shares a host thing | HIGH | docker, kubernetes | "
        + "CIS v1.8.0 5.9 (v1.6.0 5.9)<br>NSA/CISA: p.12 "
        + ("| The API cannot tell. |")
    )
    assert rows[3] == "| `bare`: Bare | LOW | docker |  | a \\| b |"
