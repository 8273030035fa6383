#!/usr/bin/env python3
"""`make` as the rehearsal's Jenkins agent has it: the real GNU make, except that the goals CI already runs for real
through `make test` (REHEARSAL_HEAVY: lint, unit, images, scan, ...) are expanded with `make -n` instead of run, one
goal at a time in the order given. Each goal is logged to $REHEARSAL_LOG with its variables and, for a dry goal, the
commands make would run (what the rehearsal checks: the tags, the images, the flags)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REAL = os.environ["REHEARSAL_REAL_MAKE"]
HEAVY = set(os.environ.get("REHEARSAL_HEAVY", "").split())


def main() -> int:
    args = sys.argv[1:]
    options = [a for a in args if a.startswith("-")]
    variables = [a for a in args if "=" in a and not a.startswith("-")]
    goals = [a for a in args if a not in options and a not in variables] or ["help"]
    log = Path(os.environ["REHEARSAL_LOG"])
    for goal in goals:
        dry = goal in HEAVY
        cmd = [REAL, *options, *(["-n"] if dry else []), *variables, goal]
        proc = subprocess.run(cmd, capture_output=dry, text=True, check=False)
        entry = {"tool": "make", "argv": [goal, *variables], "dry": dry, "rc": proc.returncode}
        if dry:
            entry["commands"] = proc.stdout
            sys.stdout.write(proc.stdout)
            sys.stderr.write(proc.stderr)
        with log.open("a") as out:
            out.write(json.dumps(entry) + "\n")
        if proc.returncode != 0:
            return proc.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
