"""make mutation: mutmut over the modules that carry the product's risk decisions, report in docs/MUTATION.md.

mutmut names a mutant after its file's path from the directory it runs in ("src/" is dropped), and the tests must
import the mutated module under that same name. The unit tests import `inventory.*` (api/) and the socket proxy's
modules by their file name (socket-proxy/), so each of the two is a mutmut project of its own: .mutmut/<project>/
holds `src` -> the project's folder and the repository's pyproject.toml ([tool.mutmut]), and mutmut keeps its copy,
its per-test map and its results in .mutmut/<project>/mutants (git-ignored; delete it or FRESH=1 to start over).

A run is incremental: mutants already killed stay killed until their function changes; every other mutant of the
selected modules (new, changed, survived, timed out) is run again, with only the tests that reach its function.
Mutants that no test can tell from the original (equivalent mutants) are listed, each with its reason, in
tools/mutation-equivalent.yaml; an entry whose mutant changed or went away fails the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutmut"
EQUIVALENT = ROOT / "tools" / "mutation-equivalent.yaml"
# What the tests read through the repository root (Path(__file__).parents[2] in api/tests, tests.support).
SHARED = ("pyproject.toml", "README.md", "docs", "nginx", "deploy", "tests")  # tests: tests/support
THRESHOLD = 90.0
# mutant names and code lines, never a secret: detect-secrets' keyword check reads `_secret__mutmut_4: ...` as one
PRAGMA = " <!-- pragma: allowlist secret -->"


@dataclass(frozen=True)
class Module:
    name: str  # the row in docs/MUTATION.md
    project: str  # api or socket-proxy: the folder `src` points to
    files: tuple[str, ...]  # globs under the project folder


MODULES = (
    Module("posture", "api", ("inventory/posture/*.py",)),
    Module("history store", "api", ("inventory/recorder/store.py",)),
    Module("history webhook", "api", ("inventory/recorder/webhook.py",)),
    Module("live state", "api", ("inventory/live.py",)),
    Module("docker event parsing", "api", ("inventory/backends/docker_events.py",)),
    Module("fleet", "api", ("inventory/fleet/*.py",)),
    Module("socket proxy rules and redaction", "socket-proxy", ("request_rules.py",)),
    Module("socket proxy event filter", "socket-proxy", ("events_filter.py",)),
)


@dataclass
class Counts:
    killed: int = 0
    timeout: int = 0
    survived: int = 0
    equivalent: int = 0
    no_tests: int = 0
    other: int = 0
    not_run: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.killed + self.timeout + self.survived + self.equivalent + self.no_tests + self.other + self.not_run

    @property
    def score(self) -> float | None:
        scored = self.total - self.equivalent - self.not_run
        return 100.0 * (self.killed + self.timeout) / scored if scored else None


def module_of(project: str, rel: str) -> Module | None:
    return next((m for m in MODULES if m.project == project and any(fnmatch.fnmatch(rel, g) for g in m.files)), None)


def selected(spec: str) -> list[Module]:
    """MUTATE=api/inventory/fleet socket-proxy/request_rules.py ...: the modules with a file under one of the paths."""
    if not spec.strip():
        return list(MODULES)
    picked = []
    for m in MODULES:
        files = [f"{m.project}/{g}" for g in m.files]
        if any(fnmatch.fnmatch(f, p.rstrip("/") + "*") for p in spec.split() for f in files):
            picked.append(m)
    if not picked:
        sys.exit(f"mutation: MUTATE={spec!r} names none of: " + ", ".join(f"{m.project}/{m.files[0]}" for m in MODULES))
    return picked


def prepare(project: str, fresh: bool) -> Path:
    work = WORK / project
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    links = {"src": ROOT / project, **{name: ROOT / name for name in SHARED}}
    for name, target in links.items():
        link = work / name
        if not link.is_symlink():
            link.symlink_to(target)
    return work


def results(work: Path) -> dict[str, tuple[str, int | None]]:
    """mutant name -> (file under the project, mutmut exit code) from mutmut's meta files."""
    out: dict[str, tuple[str, int | None]] = {}
    base = work / "mutants" / "src"
    for meta in sorted(base.rglob("*.py.meta")):
        rel = str(meta.relative_to(base))[: -len(".meta")]
        if not (ROOT / work.name / rel).is_file():
            continue  # the file moved or went away: mutmut keeps its old results in the copy, they count no more
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            out[name] = (rel, code)
    return out


def mutmut(work: Path, names: list[str], jobs: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}  # a measurement, not a lane: see docs/MUTATION.md
    cmd = [str(ROOT / ".venv" / "bin" / "mutmut"), "run", "--max-children", str(jobs), *names]
    print(f"==> mutmut run in {work.relative_to(ROOT)} ({len(names)} names)", flush=True)
    # mutmut exits 0 with survivors; a failing clean run or stats collection exits non-zero
    log = ROOT / "reports" / f"mutation-{work.name}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("a") as out:
        if subprocess.run(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode:
            sys.exit(f"mutation: mutmut failed in {work}, see {log.relative_to(ROOT)}")


def run_project(project: str, mods: list[Module], fresh: bool, jobs: int) -> float:
    start = time.monotonic()
    work = prepare(project, fresh)
    known = results(work)
    mine = [n for n, (rel, _) in known.items() if module_of(project, rel) in mods]
    if not mine:  # first run: every mutant of the modules, by the import names of their files
        names = [f"{f.removesuffix('.py').replace('/', '.')}.*" for m in mods for f in m.files]
    else:  # the rest of them; none left: a bare run still re-generates, then runs what a code change left pending
        names = [n for n in mine if known[n][1] not in (1, 3)]
    mutmut(work, names, jobs)
    # changed functions get new mutants (not yet run): run them until none is left
    for _ in range(2):
        pending = [n for n, (rel, c) in results(work).items() if c is None and module_of(project, rel) in mods]
        if not pending:
            break
        mutmut(work, pending, jobs)
    return time.monotonic() - start


def diff_line(work: Path, name: str, rel: str) -> str:
    """The mutated line(s) of a mutant, as `mutmut show` prints them (mutmut's own diff, read in-process)."""
    from mutmut.configuration import reset_config
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    here = Path.cwd()
    os.chdir(work)
    reset_config()
    try:
        diff = get_diff_for_mutant(name, path=Path("src") / rel)
    finally:
        os.chdir(here)
    added = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return " / ".join(added) or "(line removed)"


def tally(equivalent: dict[str, dict[str, str]]) -> tuple[dict[str, Counts], list[str]]:
    counts = {m.name: Counts() for m in MODULES}
    problems: list[str] = []
    seen: set[str] = set()
    for project in sorted({m.project for m in MODULES}):
        work = WORK / project
        for name, (rel, code) in results(work).items():
            mod = module_of(project, rel)
            if mod is None:
                continue
            c = counts[mod.name]
            if code is None:
                c.not_run += 1
            elif code in (1, 3):
                c.killed += 1
            elif code in (-24, 24, 152, 255, 36):
                c.timeout += 1
            elif code in (5, 33):
                c.no_tests += 1
                c.survivors.append(f"{name} (no test reaches it): `{diff_line(work, name, rel)}`")
            elif code == 0 and name in equivalent:
                seen.add(name)
                line = diff_line(work, name, rel)
                if line != equivalent[name]["mutant"]:
                    problems.append(f"{name}: listed as equivalent for `{equivalent[name]['mutant']}`, now `{line}`")
                c.equivalent += 1
            elif code == 0:
                c.survived += 1
                c.survivors.append(f"{name}: `{diff_line(work, name, rel)}`")
            else:
                c.other += 1
    measured = {name for name, c in counts.items() if c.total > c.not_run}
    problems += [
        f"{n}: listed as equivalent but it is no surviving mutant now"
        for n in equivalent
        if n not in seen and module_of_mutant(n) in measured
    ]
    return counts, problems


def module_of_mutant(name: str) -> str | None:
    """inventory.posture.catalog.x_load__mutmut_3 -> the row of inventory/posture/catalog.py (None: no module)."""
    dotted = name.split(".x_")[0].split(".xǁ")[0]
    project = "api" if dotted.startswith("inventory.") else "socket-proxy"
    mod = module_of(project, dotted.replace(".", "/") + ".py")
    return mod.name if mod else None


def carried_over(path: Path, counts: dict[str, Counts]) -> dict[str, tuple[str, list[str]]]:
    """Rows (and their survivor lines) of modules that no local run measured, kept from the committed report:
    mutmut's results live in the git-ignored .mutmut/, so a clone that ran some modules only keeps the others'."""
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    kept: dict[str, tuple[str, list[str]]] = {}
    for m in MODULES:
        c = counts[m.name]
        if c.total > c.not_run:
            continue  # measured here
        row = next((ln for ln in lines if ln.startswith(f"| {m.name} | ")), None)
        if row is None:
            continue
        survivors = [ln for ln in lines if ln.startswith("- ") and module_of_mutant(ln[2:].split(":")[0]) == m.name]
        kept[m.name] = (row, [ln.removesuffix(PRAGMA) for ln in survivors])
    return kept


def write_report(
    path: Path,
    counts: dict[str, Counts],
    equivalent: dict[str, dict[str, str]],
    took: str,
    kept: dict[str, tuple[str, list[str]]],
) -> None:
    version = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mutmut"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    lines = [
        "# Mutation testing",
        "",
        f"Generated by `make mutation` ({version}) on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: do not edit.",
        "How it works, how long it takes and how to read it: see the end of this file.",
        "",
        "| module | files | mutants | killed | timeout | survived | equivalent | no test | not run | score |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in MODULES:
        if m.name in kept:
            lines.append(kept[m.name][0])
            continue
        c = counts[m.name]
        score = "not run" if c.score is None else f"{c.score:.1f} %"
        files = ", ".join(f"`{m.project}/{f}`" for f in m.files)
        lines.append(
            f"| {m.name} | {files} | {c.total} | {c.killed} | {c.timeout} | {c.survived} | {c.equivalent} "
            f"| {c.no_tests} | {c.not_run} | {score} |"
        )
    lines += ["", f"Last runs (wall clock, 2 cores shared with other jobs): {took}.", "", "## Equivalent mutants", ""]
    lines += [f"- `{n}`: `{e['mutant']}`. {e['reason']}" for n, e in sorted(equivalent.items())] or ["None."]
    lines += ["", "## Surviving mutants (tests still to write)", ""]
    rest = [
        s
        for m in MODULES
        for s in (kept[m.name][1] if m.name in kept else [f"- {s}" for s in counts[m.name].survivors])
    ]
    lines += rest or ["None."]
    lines += ["", (ROOT / "tools" / "mutation-howto.md").read_text().rstrip(), ""]
    path.write_text("\n".join(ln + PRAGMA if ln.startswith("- ") and "secret" in ln.lower() else ln for ln in lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--modules", default=os.environ.get("MUTATE", ""), help="paths, e.g. api/inventory/fleet")
    ap.add_argument("--jobs", type=int, default=1, help="mutmut --max-children")
    ap.add_argument("--fresh", action="store_true", help="forget every earlier result")
    ap.add_argument("--report", type=Path, default=ROOT / "docs" / "MUTATION.md")
    ap.add_argument("--no-run", action="store_true", help="only rewrite the report from the last results")
    args = ap.parse_args()
    equivalent = yaml.safe_load(EQUIVALENT.read_text()) or {}
    mods = selected(args.modules)
    for project in dict.fromkeys(m.project for m in mods if not args.no_run):
        secs = run_project(project, [m for m in mods if m.project == project], args.fresh, args.jobs)
        names = ", ".join(m.name for m in mods if m.project == project)
        when = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        (WORK / project / "last-run.txt").write_text(f"{when}: {names} in {secs / 60:.1f} min, --jobs {args.jobs}")
    counts, problems = tally(equivalent)
    kept = carried_over(args.report, counts)
    runs = [p.read_text() for p in sorted(WORK.glob("*/last-run.txt"))]
    if kept:
        runs.append("kept from the committed report, not re-run here: " + ", ".join(kept))
        earlier = next((ln for ln in args.report.read_text().splitlines() if ln.startswith("Last runs")), "")
        if earlier:
            runs.append("that report's runs: " + earlier.split("): ", 1)[-1].rstrip("."))
    write_report(args.report, counts, equivalent, "; ".join(runs) or "none yet", kept)
    print(f"==> wrote {args.report.relative_to(ROOT)}")
    scores = {m.name: counts[m.name].score for m in mods}
    low = [f"{n} {'not run' if s is None else f'{s:.1f} %'}" for n, s in scores.items() if (s or 0.0) < THRESHOLD]
    low += [f"{m.name} ({counts[m.name].not_run} mutants not run)" for m in mods if counts[m.name].not_run]
    for p in problems:
        print(f"mutation: {p}", file=sys.stderr)
    if low:
        print(f"mutation: below {THRESHOLD:.0f} % killed: {', '.join(low)}", file=sys.stderr)
    return 1 if problems or low else 0


if __name__ == "__main__":
    sys.exit(main())
