"""Every venv installs exactly its lock, whatever was published since, starting from the OS's own pip.

The index is local (tests/install/index.py): the locked files from the wheelhouse `make venv` filled, plus a newer
release of every project. Each venv is built from nothing by scripts/venv.sh, as `make venv` builds it, with the
OS's python and pip as the only starting point; then this test reads what landed in the venv itself.
Breaking a lock on purpose (a transitive pin dropped, an extra dropped) must fail the build, and the index must
reproduce the incident that started this (pip 23 resolving coverage[toml] against the newest release).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.install import index

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(os.environ.get("WHEELHOUSE") or ROOT / ".cache" / "wheels")
BOOTSTRAP = ROOT / "tools" / "requirements-bootstrap.txt"
LOCKS = {"dev": ROOT / "tools" / "requirements-dev.txt", "scan": ROOT / "tools" / "requirements-scan.txt"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)")
# The starting point a fresh Debian machine has: Debian's python3 and its pip (23.0.1 on Debian 12).
OS_PYTHON = "/usr/bin/python3"


def blocks(lock: Path) -> dict[str, str]:
    """Each pin of a lock with its hash lines, by normalized project name."""
    out: dict[str, str] = {}
    current = ""
    for line in lock.read_text().splitlines(keepends=True):
        match = PIN.match(line)
        if match:
            current = index.normalize(match.group(1))
            out[current] = line
        elif current and line.startswith("    --hash"):
            out[current] += line
        else:
            current = ""
    return out


def pins(*locks: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for lock in locks:
        for name, block in blocks(lock).items():
            match = PIN.match(block)
            assert match
            found[name] = match.group(3)
    return found


def lock_extras(*locks: Path) -> dict[str, list[str]]:
    extras: dict[str, list[str]] = {}
    for lock in locks:
        for name, block in blocks(lock).items():
            match = PIN.match(block)
            if match and match.group(2):
                extras[name] = [e.strip() for e in match.group(2)[1:-1].split(",")]
    return extras


def installed(venv: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return {index.normalize(name): version for name, version in json.loads(out.stdout).items()}


def os_python() -> str:
    if not Path(OS_PYTHON).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{OS_PYTHON} (Debian's python3) is missing: scripts/install-deps.sh installs it")
        pytest.skip(f"{OS_PYTHON} is not this machine's OS python")
    return OS_PYTHON


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One fresh wheelhouse for the module's builds: each file crosses the index once."""
    return tmp_path_factory.mktemp("wheels")


@pytest.fixture(scope="module")
def replay_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    missing = (
        [
            name
            for name in pins(BOOTSTRAP, *LOCKS.values())
            if not any(index.project_of(f.name) == name for f in WHEELHOUSE.glob("*"))
        ]
        if WHEELHOUSE.is_dir()
        else ["all"]
    )
    if missing:
        pytest.fail(f"the wheelhouse {WHEELHOUSE} lacks {missing[:5]}: run `make venv scan-venv` first")
    root = tmp_path_factory.mktemp("index")
    index.build(root, WHEELHOUSE, lock_extras(BOOTSTRAP, *LOCKS.values()))
    with index.serve(root) as url:
        yield url + "/simple"


def build_venv(url: str, venv: Path, wheels: Path, *locks: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": os_python(), "INDEX_URL": url, "WHEELHOUSE": str(wheels)}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "venv.sh"), str(venv), *map(str, locks)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_the_os_pip_is_the_starting_point() -> None:
    version = subprocess.run([os_python(), "-m", "pip", "--version"], capture_output=True, text=True, check=True)
    assert not version.stdout.startswith(f"pip {pins(BOOTSTRAP)['pip']} "), "the OS pip is already the pinned one"


@pytest.mark.timeout(1800)  # a whole venv from nothing (2 min on a quiet machine, 10+ under load)
@pytest.mark.parametrize("name", sorted(LOCKS))
def test_each_venv_holds_exactly_its_lock(name: str, replay_index: str, wheels: Path, tmp_path: Path) -> None:
    venv = tmp_path / f"venv-{name}"
    result = build_venv(replay_index, venv, wheels, LOCKS[name])
    assert result.returncode == 0, result.stderr[-3000:]
    assert installed(venv) == pins(BOOTSTRAP, LOCKS[name])
    assert not any(v == index.NEWER for v in installed(venv).values())


def mini_lock(tmp_path: Path, drop: str = "", strip_extra: str = "") -> Path:
    """pytest-cov and what it needs, cut from the dev lock (coverage carries its [toml] extra)."""
    wanted = ["pytest-cov", "coverage", "pytest", "iniconfig", "pluggy", "packaging", "pygments"]
    dev = blocks(LOCKS["dev"])
    text = "".join(dev[name] for name in wanted if name != drop)
    if strip_extra:
        text = re.sub(rf"^{strip_extra}\[[^\]]*\]==", f"{strip_extra}==", text, flags=re.M)
    path = tmp_path / "mini.txt"
    path.write_text(text)
    return path


def test_a_complete_lock_builds(replay_index: str, wheels: Path, tmp_path: Path) -> None:
    lock = mini_lock(tmp_path)
    result = build_venv(replay_index, tmp_path / "venv", wheels, lock)
    assert result.returncode == 0, result.stderr[-3000:]
    assert installed(tmp_path / "venv") == pins(BOOTSTRAP, lock)


def test_a_lock_missing_a_transitive_pin_fails(replay_index: str, wheels: Path, tmp_path: Path) -> None:
    result = build_venv(replay_index, tmp_path / "venv", wheels, mini_lock(tmp_path, drop="pluggy"))
    assert result.returncode != 0
    assert "pluggy" in result.stderr


def test_a_lock_missing_an_extra_fails(replay_index: str, wheels: Path, tmp_path: Path) -> None:
    lock = mini_lock(tmp_path, strip_extra="coverage")
    assert "coverage[" not in lock.read_text()
    result = build_venv(replay_index, tmp_path / "venv", wheels, lock)
    assert result.returncode != 0
    assert "coverage[toml]" in result.stderr


def test_the_index_replays_the_incident(replay_index: str, tmp_path: Path) -> None:
    """The old way (the OS pip resolving a hash lock without the pinned extra) fails against this index."""
    venv = tmp_path / "old"
    subprocess.run([os_python(), "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "--isolated",
            "install",
            "--index-url",
            replay_index,
            "--require-hashes",
            "-r",
            str(mini_lock(tmp_path, strip_extra="coverage")),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode != 0
    assert f"coverage-{index.NEWER}" in result.stderr or "pinned with ==" in result.stderr, result.stderr[-2000:]


def test_a_venv_of_another_checkout_is_refused(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".checkout").write_text("/elsewhere/checkout\n")
    (venv / "keep").write_text("untouched")
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "venv.sh"), str(venv), str(BOOTSTRAP)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "belongs to the checkout /elsewhere/checkout" in result.stderr
    assert (venv / "keep").read_text() == "untouched"
