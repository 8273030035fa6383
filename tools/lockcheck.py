"""Prove that a venv holds exactly what its hash locks name: no more, no less, no other version.

Usage: python tools/lockcheck.py LOCK [LOCK ...]   (run with the venv's own python)

Checks, each failing with one line per problem:
- every installed distribution is pinned by one of the locks, at the installed version (the API package that
  `make venv` installs in place is the one exception: it is this checkout);
- every pin of the locks is installed;
- every extra that an installed distribution requires (``pytest-cov`` needs ``coverage[toml]``) is named on the
  lock's pin of that package, so an installer that resolves extras (pip 23 does, even with --require-hashes) finds
  it already pinned and never reaches for a newer release.

This reads the locks and the installed metadata with ``packaging``; it resolves nothing.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

OWN = {"container-inventory-api"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def read_locks(paths: list[str]) -> dict[str, tuple[str, frozenset[str]]]:
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            match = PIN.match(line)
            if match:
                extras = frozenset(e.strip() for e in (match.group(2) or "[]")[1:-1].split(",") if e.strip())
                pins[canonicalize_name(match.group(1))] = (match.group(3), extras)
    return pins


def check(paths: list[str]) -> list[str]:
    pins = read_locks(paths)
    installed = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions()}
    problems: list[str] = []
    for name, dist in sorted(installed.items()):
        if name in OWN:
            continue
        if name not in pins:
            problems.append(f"{name}=={dist.version} is installed but no lock pins it")
        elif pins[name][0] != dist.version:
            problems.append(f"{name}=={dist.version} is installed but the lock pins {pins[name][0]}")
    problems += [
        f"{name}=={pin[0]} is pinned but not installed" for name, pin in sorted(pins.items()) if name not in installed
    ]
    for name, dist in sorted(installed.items()):
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            target = canonicalize_name(req.name)
            missing = set(req.extras) - set(pins.get(target, ("", frozenset()))[1])
            if req.extras and target in pins and missing:
                wanted = ",".join(sorted(req.extras))
                problems.append(f"{name} requires {target}[{wanted}]: the lock pins {target} without {sorted(missing)}")
    return problems


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: lockcheck.py LOCK [LOCK ...]", file=sys.stderr)
        return 2
    problems = check(argv)
    for problem in problems:
        print(f"lockcheck: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
