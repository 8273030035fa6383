"""The posture catalog table of docs/POSTURE.md, generated from the catalog (tests check it is current).

python -m inventory.posture.docs            # rewrite the table in docs/POSTURE.md
python -m inventory.posture.docs --check    # exit 1 when docs/POSTURE.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..docblock import DocBlock
from .catalog import Rule, catalog

DOC = Path(__file__).resolve().parents[3] / "docs" / "POSTURE.md"
BLOCK = DocBlock(
    DOC, "<!-- posture-catalog:start -->", "<!-- posture-catalog:end -->", "python -m inventory.posture.docs"
)


def _refs(rule: Rule) -> str:
    r = rule.references
    parts = []
    if "cis" in r:
        parts.append(f"CIS v1.8.0 {r['cis']} (v1.6.0 {r['cis_v1_6']})")
    if "pss" in r:
        parts.append(f"PSS {r['pss']['level']}: {r['pss']['control']}")
    if "nsa" in r:
        parts.append(f"NSA/CISA: {r['nsa']}")
    return "<br>".join(parts)


def table() -> str:
    lines = [
        "| Rule | Severity | Applies to | References | What the API cannot tell |",
        "|---|---|---|---|---|",
    ]
    for rule in catalog().rules:
        backends = ", ".join(rule.backends)
        limits = (rule.limits or "-").replace("|", "\\|")
        lines.append(f"| `{rule.id}`: {rule.title} | {rule.severity} | {backends} | {_refs(rule)} | {limits} |")
    return "\n".join(lines)


def render(text: str) -> str:
    return BLOCK.render(text, table())


if __name__ == "__main__":
    sys.exit(BLOCK.main(sys.argv[1:], table))
