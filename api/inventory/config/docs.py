"""The configuration tables of docs/CONFIGURATION.md, generated from the declarations (a test checks they are current).

python -m inventory.config.docs            # rewrite the tables in docs/CONFIGURATION.md
python -m inventory.config.docs --check    # exit 1 when docs/CONFIGURATION.md is stale
(or: make config-docs)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..docblock import DocBlock
from .declare import Var, declared
from .recorder import RecorderSettings
from .server import ServerSettings
from .settings import Settings, SingleSource

DOC = Path(__file__).resolve().parents[3] / "docs" / "CONFIGURATION.md"
BLOCK = DocBlock(
    DOC,
    "<!-- configuration:start (generated: make config-docs) -->",
    "<!-- configuration:end -->",
    "make config-docs",
)
GROUPS: tuple[tuple[str, type], ...] = (
    ("API and recorder (`Settings`)", Settings),
    ("The single source, when `SOURCES_FILE` is empty (`SingleSource`)", SingleSource),
    ("Recorder only (`RecorderSettings`)", RecorderSettings),
    ("gunicorn, in the flask-api image (`ServerSettings`)", ServerSettings),
)


def shown(var: Var, kind: str, default: Any) -> str:
    if var.shown:
        return var.shown
    if kind == "bool":
        return f"`{str(default).lower()}`"
    if kind == "float":
        return f"`{default:g}`"
    return f"`{default}`" if default not in ("", ()) else "empty"


def table() -> str:
    out: list[str] = []
    seen: set[str] = set()
    for title, cls in GROUPS:
        rows = [(v, k, d) for v, k, d in declared(cls) if v.env not in seen]
        seen |= {v.env for v, _, _ in rows}
        out += ["", f"**{title}**", "", "| variable | default | meaning |", "|---|---|---|"]
        for var, kind, default in rows:
            limit = f"; at least {var.minimum:g}" if kind in ("int", "float") and var.minimum else ""
            meaning = var.help.replace("|", "\\|") + limit
            out.append(f"| `{var.env}` | {shown(var, kind, default)} | {meaning} |")
    return "\n".join(out[1:])


def render(text: str) -> str:
    return BLOCK.render(text, table())


if __name__ == "__main__":
    sys.exit(BLOCK.main(sys.argv[1:], table))
