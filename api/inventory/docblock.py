"""A generated block inside a doc (between two HTML comments): rewrite it, or check that it is current.

Used by the generated tables (``inventory.config.docs``, ``inventory.posture.docs``); their tests call ``render``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DocBlock:
    doc: Path
    start: str
    end: str
    command: str  # how to regenerate it, named when the doc is stale

    def render(self, text: str, block: str) -> str:
        head, rest = text.split(self.start, 1)
        _, tail = rest.split(self.end, 1)
        return f"{head}{self.start}\n{block}\n{self.end}{tail}"

    def main(self, argv: list[str], block: Callable[[], str]) -> int:
        """Rewrite the block; with ``--check``, exit 1 when the doc is stale instead."""
        text = self.doc.read_text(encoding="utf-8")
        fresh = self.render(text, block())
        if "--check" in argv:
            if fresh != text:
                print(f"{self.doc.name}: the generated table is stale: run {self.command}", file=sys.stderr)
                return 1
            return 0
        self.doc.write_text(fresh, encoding="utf-8")
        return 0
