"""Helpers for the CI/CD suite: real Groovy, real make, real scanners; nothing here is mocked."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
JENKINS = ROOT / "jenkins"
SEED = JENKINS / "seed" / "seed.groovy"
JENKINSFILES = sorted((JENKINS / "pipelines").glob("*.Jenkinsfile"))
JAVA_HOME = os.environ.get("JAVA_HOME") or "/usr/lib/jvm/java-17-openjdk-amd64"


def groovy_env() -> dict[str, str]:
    return {**os.environ, "JAVA_HOME": JAVA_HOME}


_PROBED: dict[Path, dict[str, Any]] = {}


def probe_many(paths: list[Path]) -> dict[Path, dict[str, Any]]:
    """The calls each Job DSL script or Jenkinsfile makes, from evaluating it with real Groovy (dsl_probe.groovy).
    One JVM for all of them; results are cached per path."""
    todo = [p for p in dict.fromkeys(paths) if p not in _PROBED]
    if todo:
        proc = subprocess.run(
            ["groovy", str(Path(__file__).with_name("dsl_probe.groovy")), "--many", *map(str, todo)],
            capture_output=True,
            text=True,
            env=groovy_env(),
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        trees = json.loads(proc.stdout)
        for path in todo:
            _PROBED[path] = trees[str(path)]
    return {p: _PROBED[p] for p in paths}


def probe(path: Path) -> dict[str, Any]:
    return probe_many([path])[path]


def seed_calls() -> dict[str, Any]:
    return probe(SEED)


def names(node: dict[str, Any]) -> set[str]:
    """Every call name below `node`."""
    out = set()
    for c in node["children"]:
        out |= {c["name"]} | names(c)
    return out


def find(node: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """All calls named `name` anywhere below `node`."""
    out = [c for c in node["children"] if c["name"] == name]
    for c in node["children"]:
        out += find(c, name)
    return out


def seed_jobs() -> dict[str, dict[str, Any]]:
    """Generated pipeline jobs by short name (folder stripped)."""
    return {j["args"][0].split("/")[-1]: j for j in find(seed_calls(), "pipelineJob")}


def make_database() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(prerequisites, recipe lines) of every real target, as GNU make itself sees them (`make -pq`)."""
    proc = subprocess.run(
        ["make", "-pq", "-C", str(ROOT), "--no-print-directory", "help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")},
    )
    prereqs: dict[str, list[str]] = {}
    recipes: dict[str, list[str]] = {}
    lines = proc.stdout.splitlines()
    in_files = False
    current = None
    for i, line in enumerate(lines):
        if line.startswith("# Files"):
            in_files = True
            continue
        if not in_files:
            continue
        if line.startswith("\t") and current:
            recipes[current].append(line[1:])
            continue
        m = re.match(r"^([A-Za-z0-9_./%-]+):(?!=)\s*(.*)$", line)
        if m and not (i > 0 and lines[i - 1].startswith("# Not a target")):
            current = m.group(1)
            prereqs[current] = m.group(2).split("|")[0].split()
            recipes.setdefault(current, [])
        elif not line.strip():
            current = None
    return prereqs, recipes
