"""Print the per-lane table that closes `make test` (and write it to reports/lanes.md).

Reads reports/lanes.tsv (one line per lane: name, exit code, start, end; written by the Makefile's lane/% rule),
reports/lanes.start (when `make test` began) and each lane's JUnit file (reports/<lane without test->.xml) for
its test counts. Standard library only: it runs with the OS python, before or without any venv.
"""

from __future__ import annotations

import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Lane:
    name: str
    code: int
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def counts(reports: Path, lane: str) -> str:
    junit = reports / f"{lane.removeprefix('test-')}.xml"
    if not junit.exists():
        return "-"
    root = ET.parse(junit).getroot()  # noqa: S314 - our own pytest's JUnit file
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {key: sum(int(s.get(key, 0)) for s in suites) for key in ("tests", "failures", "errors", "skipped")}
    failed = total["failures"] + total["errors"]
    return f"{total['tests'] - failed - total['skipped']} passed, {failed} failed, {total['skipped']} skipped"


def table(reports: Path) -> tuple[str, bool]:
    began = float((reports / "lanes.start").read_text())
    lanes = []
    for line in (reports / "lanes.tsv").read_text().splitlines():
        name, code, start, end = line.split("\t")
        lanes.append(Lane(name, int(code), float(start), float(end)))
    lanes.sort(key=lambda lane: lane.start)
    rows = ["| lane | result | started | took | tests |", "|---|---|---:|---:|---|"]
    rows += [
        f"| {lane.name} | {'passed' if lane.code == 0 else f'FAILED ({lane.code})'} | +{minutes(lane.start - began)} "
        f"| {minutes(lane.seconds)} | {counts(reports, lane.name)} |"
        for lane in lanes
    ]
    wall = (max(lane.end for lane in lanes) if lanes else time.time()) - began
    busy = sum(lane.seconds for lane in lanes)
    rows.append(
        f"\n`make test`: {minutes(wall)} wall clock (prerequisites included); the lanes add up to {minutes(busy)}."
    )
    return "\n".join(rows) + "\n", all(lane.code == 0 for lane in lanes)


def main(argv: list[str]) -> int:
    reports = Path(argv[0] if argv else "reports")
    if not (reports / "lanes.tsv").exists():
        print(f"lanes: no lane ran ({reports / 'lanes.tsv'} is missing)", file=sys.stderr)
        return 1
    text, ok = table(reports)
    (reports / "lanes.md").write_text(text)
    print("==> lanes\n" + text, end="")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
