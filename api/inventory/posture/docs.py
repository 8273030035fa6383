"""The posture catalog table of docs/POSTURE.md, generated from the catalog (tests check it is current).

python -m inventory.posture.docs            # rewrite the table in docs/POSTURE.md
python -m inventory.posture.docs --check    # exit 1 when docs/POSTURE.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from .catalog import Rule, catalog

DOC = Path(__file__).resolve().parents[3] / "docs" / "POSTURE.md"
START, END = "<!-- posture-catalog:start -->", "<!-- posture-catalog:end -->"


def _refs(rule: Rule) -> str:
    r = rule.references
    parts = []
    if "cis" in r:
        parts.append(f"CIS {r['cis']}")
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
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in argv:
        if new != text:
            print(
                "docs/POSTURE.md posture catalog table is stale: run python -m inventory.posture.docs", file=sys.stderr
            )
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
