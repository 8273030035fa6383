"""Extract the named Mermaid blocks of docs/ARCHITECTURE.md and render them with mermaid-cli (system Chromium).

python tests/ops/diagrams.py render   # writes docs/diagrams/<name>.mmd and <name>.svg (make docs-diagrams)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
OUT = ROOT / "docs" / "diagrams"
PUPPETEER = ROOT / "tools" / "node" / "puppeteer-config.json"
BLOCK = re.compile(r"<!-- diagram: (?P<name>[a-z0-9-]+) -->\n```mermaid\n(?P<src>.*?)```", re.S)


def mmdc() -> Path:
    return Path(os.environ.get("MMDC") or ROOT / ".venv-node" / "node_modules" / ".bin" / "mmdc")


def blocks(text: str | None = None) -> dict[str, str]:
    return {m["name"]: m["src"] for m in BLOCK.finditer(text if text is not None else DOC.read_text())}


def render(source: str, svg: Path) -> subprocess.CompletedProcess[str]:
    """Run mermaid-cli on one diagram; a parse error makes it exit non-zero."""
    mmd = svg.with_suffix(".mmd")
    mmd.write_text(source)
    return subprocess.run(
        [str(mmdc()), "-p", str(PUPPETEER), "-q", "-i", str(mmd), "-o", str(svg)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"},
    )


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, source in blocks().items():
        print(f"==> {name}: {OUT / name}.svg", flush=True)
        proc = render(source, OUT / f"{name}.svg")
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["render"]:
        print("usage: diagrams.py render", file=sys.stderr)
        sys.exit(2)
    sys.exit(main())
