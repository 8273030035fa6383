"""The docs: the README's size budget, links in every doc, the commands and diagrams they show; docs/RUNBOOKS.md
and docs/ARCHITECTURE.md: alert sections, procedures, tested commands, diagrams, requirement table."""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from invops.cli import build_parser

from tests.ops import diagrams
from tests.support.contracts import ALERT_NAMES
from tests.support.prereq import unavailable

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "RUNBOOKS.md"
ARCH = ROOT / "docs" / "ARCHITECTURE.md"
SEED = ROOT.parent / "shared" / "seed" / "ARCHITECTURE.md"
ALERTS = list(ALERT_NAMES)
PROCEDURES = [
    "Restore etcd",
    "Restore Docker volumes",
    "Restore PVCs with Velero",
    "Restore images",
    "Restore configs",
    "Rollback on Kubernetes",
    "Rollback on a Docker host",
    "Secret rotation",
    "Scaling by hand",
    "A failed scan in the pipeline",
    "Node or cluster loss",
]


def sections(text: str, level: str = "###") -> dict[str, str]:
    parts = re.split(rf"^{level} (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def anchor(heading: str) -> str:
    """GitHub's heading anchor: lower-case, drop punctuation, spaces to dashes."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def tagged_blocks(text: str, tag: str) -> list[str]:
    return re.findall(rf"<!-- {re.escape(tag)} -->\n```bash\n(.*?)```", text, flags=re.S)


@pytest.fixture(scope="module")
def runbooks() -> str:
    return RUNBOOKS.read_text()


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_has_a_complete_section(runbooks, alert):
    body = sections(runbooks).get(alert)
    assert body is not None, f"missing ### {alert}"
    for part in ("**Symptoms", "**Checks", "**Fixes"):
        assert part in body, f"{alert}: no {part}"
    assert re.search(r"\b(inventory|nginx|kube)_[a-z_]+", body), f"{alert}: no Prometheus query"
    assert re.search(r"kubectl|make compose|curl", body), f"{alert}: no command to check with"


def test_alert_rules_point_at_existing_sections(runbooks):
    rule_files = sorted((ROOT / "deploy").glob("**/alerts/*.yaml"))
    if not rule_files:
        pytest.fail("no alert rule files under deploy/")
    anchors = {anchor(h) for h in sections(runbooks)}
    seen = set()
    for path in rule_files:
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            for rule in group.get("rules", []):
                if "alert" not in rule:
                    continue
                seen.add(rule["alert"])
                url = rule.get("annotations", {}).get("runbook_url", "")
                assert url.endswith("docs/RUNBOOKS.md#" + rule["alert"].lower()), (path, rule["alert"], url)
                assert rule["alert"].lower() in anchors, f"{rule['alert']} ({path}) has no runbook section"
    assert set(ALERTS) <= seen, f"alerts of the contract missing from the rule files: {set(ALERTS) - seen}"


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_procedures_present(runbooks, procedure):
    body = sections(runbooks).get(procedure)
    assert body is not None and len(body.split()) > 60, f"procedure {procedure!r} missing or too thin"


@pytest.mark.parametrize("doc", [RUNBOOKS, ARCH], ids=lambda p: p.name)
def test_internal_links_resolve(doc):
    text = doc.read_text()
    anchors = {anchor(h) for level in ("##", "###") for h in sections(text, level)}
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, f"{doc.name}: broken link #{target}"
    for target in re.findall(r"\]\((?!https?:|#)([^)#]+)", text):
        assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


def runbook_commands(runbooks: str) -> list[list[str]]:
    """argv of every ops/invops.sh line in the tested runbook blocks."""
    out = []
    for block in tagged_blocks(runbooks, "tested") + tagged_blocks(runbooks, "tested: run"):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("ops/invops.sh "):
                out.append(shlex.split(line)[1:])
    return out


def test_tested_commands_parse(runbooks):
    blocks = tagged_blocks(runbooks, "tested") + tagged_blocks(runbooks, "tested: run")
    assert len(blocks) >= 6
    parser = build_parser()
    invops_lines = make_lines = 0
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if not line or line.startswith("#"):
                continue
            argv = shlex.split(line)
            if argv[0] == "ops/invops.sh":
                # Exits 2 (fails the test) on a wrong command or option. That each command really ran, with these
                # options, is checked by tests/ops/test_zz_runbook_exercised.py at the end of the ops suite.
                parser.parse_args(argv[1:])
                invops_lines += 1
            elif argv[0] == "make":
                proc = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True, text=True, check=False)
                assert proc.returncode == 0, f"{line}: {proc.stderr.strip()}"
                make_lines += 1
            elif argv[0] == "export" or "=" in argv[0]:
                continue  # shell variables for the commands that follow
            else:
                raise AssertionError(f"unexpected command in a tested block: {line}")
    assert invops_lines >= 10 and make_lines >= 3


def test_invops_wrapper_runs():
    proc = subprocess.run([str(ROOT / "ops/invops.sh"), "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("invops ")


@pytest.mark.docker
def test_volume_runbook_block_runs_for_real(runbooks, docker_client, base_image, uid, tmp_path):
    (block,) = tagged_blocks(runbooks, "tested: run")
    volume = uid
    docker_client.volumes.create(volume)
    try:
        docker_client.containers.run(
            base_image,
            ["sh", "-c", "echo runbook > /data/f && chmod 0604 /data/f"],
            remove=True,
            network_mode="none",
            volumes={volume: {"bind": "/data"}},
        )
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "VOLUME": volume, "BACKUP_DIR": str(tmp_path)},
            check=False,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        out = docker_client.containers.run(
            base_image,
            ["stat", "-c", "%a %n", "/data/f"],
            remove=True,
            volumes={f"{volume}-restored": {"bind": "/data"}},
        )
        assert out.decode().strip() == "604 /data/f"
    finally:
        for name in (volume, f"{volume}-restored"):
            for vol in docker_client.volumes.list(filters={"name": name}):
                if vol.name == name:
                    vol.remove(force=True)


# ---- README budget, links and make commands in every doc ---------------------------------------------------------

README = ROOT / "README.md"
README_BUDGET = 15 * 1024  # bytes: the README says what and why and links the rest (issue 20)
# Every doc a reader follows from the README: docs/*.md and the folders' own READMEs.
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
DOCS += [
    ROOT / d / "README.md" for d in ("api", "nginx", "socket-proxy", "ops", "jenkins", "api/inventory/posture/rules")
]


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code (a `](x)` in code is not a link)."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M))


def link_problems(doc: Path, text: str) -> list[str]:
    """Relative links of a Markdown file whose file (or heading anchor, in a Markdown target) does not exist."""
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(text)):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, fragment = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if path and not file.exists():
            problems.append(f"{doc.name}: {target}: no such file")
        elif fragment and file.suffix == ".md":
            body = file.read_text(encoding="utf-8") if path else text
            anchors = {anchor(h) for level in ("#", "##", "###", "####") for h in sections(body, level)}
            if fragment not in anchors:
                problems.append(f"{doc.name}: {target}: no heading #{fragment} in {file.name}")
    return problems


def test_readme_is_within_its_budget():
    size = len(README.read_bytes())
    assert size <= README_BUDGET, f"README.md is {size} bytes, over {README_BUDGET}: move detail into docs/"


def test_readme_links_every_doc():
    links = set(re.findall(r"\]\(([^)#\s]+)", README.read_text(encoding="utf-8")))
    missing = [p.relative_to(ROOT).as_posix() for p in DOCS[1:] if p.relative_to(ROOT).as_posix() not in links]
    assert not missing, f"docs the README does not link: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(doc):
    assert doc.exists(), f"{doc} is missing"
    problems = link_problems(doc, doc.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_link_check_catches_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "A.md").write_text("# A\n\n## Two words\n")
    doc = tmp_path / "README.md"
    text = (
        "[ok](docs/A.md) [ok](docs/A.md#two-words) [ok](#readme) [web](https://example.com/x.md) `[code](gone.md)`\n"
        "[gone](docs/B.md) [bad anchor](docs/A.md#three) [self](#nowhere)\n# README\n"
    )
    assert link_problems(doc, text) == [
        "README.md: docs/B.md: no such file",
        "README.md: docs/A.md#three: no heading #three in A.md",
        "README.md: #nowhere: no heading #nowhere in README.md",
    ]


def make_commands(text: str) -> list[list[str]]:
    """argv of every `make ...` a doc shows, in a shell block or inline, except `make compose` (checked below with
    the Compose CLI) and placeholders (`ENV=...`, `<project>`, `a|b`, globs)."""
    found = []
    for block in re.findall(r"^```(?:bash|sh)\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.splitlines():
            found += [m[1] for m in re.finditer(r"(?:^|&&|;)\s*(make [^#&;|]*)", line)]
    found += re.findall(r"`(make [^`]*)`", text)
    out = []
    for command in found:
        argv = shlex.split(command.strip())
        if argv[1:2] == ["compose"] or any(re.search(r"\.\.\.|[<|*\[]", word) for word in argv):
            continue
        out.append(argv)
    return out


def test_make_commands_in_the_docs_run():
    """`make -n` of each command: the targets exist and the Makefile accepts the variables as shown."""
    commands = {tuple(c) for doc in DOCS for c in make_commands(doc.read_text(encoding="utf-8"))}
    assert len(commands) >= 40 and ("make", "up") in commands and ("make", "unit") in commands
    problems = []
    for argv in sorted(commands):
        proc = subprocess.run([*argv, "-n"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            problems.append(f"{shlex.join(argv)}: {proc.stderr.strip()[-300:]}")
    assert not problems, "\n".join(problems)


def test_make_check_catches_a_missing_target():
    assert make_commands("```bash\nmake no-such-target && make up X=1  # c\n```\n`make deploy ENV=...`") == [
        ["make", "no-such-target"],
        ["make", "up", "X=1"],
    ]
    proc = subprocess.run(["make", "no-such-target", "-n"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "No rule to make target" in proc.stderr


# ---- Compose commands ------------------------------------------------------------------------------------------

# Docs that show commands, and compose files whose comments do.
COMPOSE_DOCS = list(DOCS)
COMPOSE_DOCS += [*sorted(ROOT.glob("compose*.yaml")), ROOT / "jenkins" / "compose.yaml"]


def compose_problems(path: Path, text: str) -> list[str]:
    """Compose commands a doc shows that cannot run here or in CI: `docker compose ...` (the v2 plugin, which
    Debian's docker.io does not ship; tools/apt-packages.txt installs docker-compose 1.29), or a bare
    `docker-compose` on the stack's compose.yaml (stops at `IMAGE_TAG is not set` outside make; `make compose
    ARGS=...` passes what `make up` uses). Only the Jenkins controller's own compose file is run directly."""
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        for m in re.finditer(r"docker compose (?!v2)(\S+)|docker-compose (\S+ \S+)", line):
            if m[1] is not None:
                problems.append(f"{path.name}:{n}: `docker compose {m[1]}` (not installed here nor in CI)")
            elif not m[2].startswith("-f jenkins/compose.yaml"):
                problems.append(f"{path.name}:{n}: `docker-compose {m[2]}`: use make compose ARGS='...'")
    return problems


def compose_commands(text: str) -> list[list[str]]:
    """The ARGS of every `make compose ... ARGS=...` a doc shows (inline or in a block; may wrap one line)."""
    out = []
    for m in re.finditer(r"make compose((?: [A-Z_]+=[^ `']+)*) ARGS=('[^']*'|[^ `'\n]+)", text):
        args = shlex.split(m[2].strip("'").replace("\n", " "))
        if args != ["..."]:  # the placeholder of the runbook's conventions
            out.append(args)
    return out


@functools.lru_cache(maxsize=32)
def _compose_help(files: tuple[str, ...], sub: str) -> subprocess.CompletedProcess[str]:
    cmd = ["make", "-s", "compose", f"ARGS={shlex.join([*files, sub, '--help'])}"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, timeout=60)


def compose_help_problems(args: list[str]) -> list[str]:
    """ARGS must be `[-f FILE]... SUBCOMMAND [OPTIONS] [SERVICES]` with a subcommand and options the installed
    Compose CLI knows (its `SUBCOMMAND --help`, through make compose like the doc), services of compose.yaml."""
    files: list[str] = []
    while args[:1] == ["-f"]:
        files, args = files + args[:2], args[2:]
    sub, rest = args[0], args[1:]
    proc = _compose_help(tuple(files), sub)
    if proc.returncode != 0:
        return [f"{shlex.join(args)}: `{sub} --help` failed: {(proc.stderr or proc.stdout).strip()[-300:]}"]
    services = set(yaml.safe_load((ROOT / "compose.yaml").read_text())["services"])
    problems = []
    words = iter(rest)
    for word in words:
        if word.startswith("-"):
            option = word.split("=")[0]
            if not re.search(rf"(^|[\s,]){re.escape(option)}\b", proc.stdout):
                problems.append(f"{shlex.join(args)}: `{sub}` has no option {word}")
            elif "=" not in word and re.search(rf"{re.escape(option)}(=| [A-Z])", proc.stdout):
                next(words, None)  # the option's value (--tail 2, --scale flask-api=3)
        elif word not in services and not word.startswith("<"):
            problems.append(f"{shlex.join(args)}: no service {word} in compose.yaml")
    return problems


def test_docs_show_compose_commands_that_work_here():
    assert "docker-compose" in (ROOT / "tools" / "apt-packages.txt").read_text().split(), "CI's Compose CLI"
    problems = [p for path in COMPOSE_DOCS for p in compose_problems(path, path.read_text())]
    assert not problems, "\n".join(problems)
    commands = [c for path in COMPOSE_DOCS for c in compose_commands(path.read_text())]
    assert len(commands) >= 10, commands
    problems = [p for args in commands for p in compose_help_problems(args)]
    assert not problems, "\n".join(problems)


def test_compose_check_fails_on_commands_that_do_not_work_here():
    doc = Path("X.md")
    assert compose_problems(doc, "run `docker compose restart flask-api`") == [
        "X.md:1: `docker compose restart` (not installed here nor in CI)"
    ]
    assert compose_problems(doc, "docker-compose -p inventory ps")
    assert not compose_problems(doc, "docker-compose -f jenkins/compose.yaml down")
    assert compose_commands("`make compose PROJECT=x ARGS='logs\n--since 1m flask-api'` and make compose ARGS=ps") == [
        ["logs", "--since", "1m", "flask-api"],
        ["ps"],
    ]
    assert compose_help_problems(["logs", "--no-such-flag", "flask-api"]) == [
        "logs --no-such-flag flask-api: `logs` has no option --no-such-flag"
    ]
    assert compose_help_problems(["restart", "no-such-service"]) == [
        "restart no-such-service: no service no-such-service in compose.yaml"
    ]
    (problem,) = compose_help_problems(["frobnicate"])
    assert problem.startswith("frobnicate: `frobnicate --help` failed")


# ---- Mermaid ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mmdc() -> Path:
    path = diagrams.mmdc()
    if not path.exists():
        pytest.fail(f"mermaid-cli not installed at {path}: run `make mermaid-deps`")
    return path


def other_mermaid_blocks() -> list[tuple[str, str]]:
    """(id, source) of every Mermaid block in the docs besides docs/ARCHITECTURE.md's named three."""
    out = []
    for doc in DOCS:
        if doc == ARCH:
            continue
        for n, source in enumerate(re.findall(r"^```mermaid\n(.*?)^```", doc.read_text(), flags=re.S | re.M), 1):
            out.append((f"{doc.relative_to(ROOT).as_posix()}#{n}", source))
    return out


OTHER_DIAGRAMS = other_mermaid_blocks()


def test_the_docs_have_their_diagrams():
    assert {name.split("#")[0] for name, _ in OTHER_DIAGRAMS} >= {"README.md", "docs/FLEET.md", "docs/HISTORY.md"}


@pytest.mark.parametrize(("name", "source"), OTHER_DIAGRAMS, ids=[n for n, _ in OTHER_DIAGRAMS])
def test_every_other_diagram_parses_and_renders(mmdc, name, source, tmp_path):
    proc = diagrams.render(source, tmp_path / "diagram.svg")
    assert proc.returncode == 0, f"{name}: {proc.stderr}"
    assert ET.parse(tmp_path / "diagram.svg").getroot().tag.endswith("svg")


def test_architecture_has_the_three_diagrams():
    assert sorted(diagrams.blocks()) == ["cicd", "network", "security"]


@pytest.mark.parametrize("name", ["cicd", "network", "security"])
def test_diagram_parses_renders_and_is_committed(mmdc, name, tmp_path):
    source = diagrams.blocks()[name]
    proc = diagrams.render(source, tmp_path / f"{name}.svg")
    assert proc.returncode == 0, proc.stderr
    assert ET.parse(tmp_path / f"{name}.svg").getroot().tag.endswith("svg")
    committed = ROOT / "docs" / "diagrams"
    assert (committed / f"{name}.mmd").read_text() == source, "stale docs/diagrams: run `make docs-diagrams`"
    assert ET.parse(committed / f"{name}.svg").getroot().tag.endswith("svg")


def test_parser_is_real_and_rejects_broken_diagrams(mmdc, tmp_path):
    """Negative control: the seed's security diagram uses unquoted parentheses and must not parse."""
    broken = "graph TD\n  user[User] --> nginx[Nginx (non-root, read-only)]\n"
    proc = diagrams.render(broken, tmp_path / "broken.svg")
    assert proc.returncode != 0 and "Parse error" in proc.stderr


# ---- requirement table --------------------------------------------------------------------------------------


def _normalise(line: str) -> str:
    line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)
    return re.sub(r"\s+", " ", line.replace("[x] ", "").strip()).rstrip(":")


def seed_requirements() -> list[str]:
    if not SEED.exists():
        unavailable(f"seed architecture not found at {SEED} (CI has it at ../shared)")
    body = SEED.read_text().split("## Mermaid Diagrams")[0] + SEED.read_text().split("## See more in files:")[-1]
    return [_normalise(line.strip()[2:]) for line in body.splitlines() if line.strip().startswith("- ")]


def requirement_rows() -> list[list[str]]:
    table = ARCH.read_text().split("<!-- requirements-table -->")[1].strip().splitlines()
    rows = [row.strip("|").split(" | ") for row in table if row.startswith("| ") and not row.startswith("|---")]
    return rows[1:]  # without the header


def test_every_seed_requirement_is_mapped():
    rows = {_normalise(r[0]): r for r in requirement_rows()}
    reqs = seed_requirements()
    assert len(reqs) >= 25
    missing = [r for r in reqs if r not in rows]
    assert not missing, f"seed requirements without a row: {missing}"
    for req in reqs:
        assert all(cell.strip() for cell in rows[req]), f"empty cell for {req!r}"


def _tracked() -> list[str] | None:
    proc = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 and proc.stdout else None


def test_every_referenced_path_exists():
    """Paths must be tracked by git (what CI checks out), not just lying around in a working tree."""
    tracked = _tracked()
    missing = []
    for row in requirement_rows():
        for cell in row[1:]:
            for path in re.findall(r"`([^`]+)`", cell):
                if path.startswith("../") or " " in path or path.startswith("make"):
                    continue
                if tracked is None:
                    ok = (ROOT / path).exists()
                else:
                    prefix = path.rstrip("/") + "/"
                    ok = any(f == path or f.startswith(prefix) for f in tracked)
                if not ok:
                    missing.append(f"{row[0].strip()} -> {path}")
    assert not missing, "paths in the requirement table that git does not track:\n" + "\n".join(missing)
