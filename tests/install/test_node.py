"""The Node tools (.venv-node) hold exactly tools/node/package-lock.json: `npm ci` installs the lock as written,
integrity-checked, and resolves nothing; this proves what landed, package by package, in both directions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "tools" / "node" / "package-lock.json"
ENV = Path(os.environ.get("NODE_ENV_DIR") or ROOT / ".venv-node")


def installed(env: Path) -> dict[str, str]:
    """Every package.json under node_modules (nested ones included), by its lock-style path."""
    found: dict[str, str] = {}
    for manifest in (env / "node_modules").rglob("package.json"):
        rel = manifest.parent.relative_to(env).as_posix()
        parts = rel.split("/")
        # a package's own directory: node_modules/<name> or node_modules/@scope/<name>, possibly nested
        if parts[-2] == "node_modules" or (len(parts) > 2 and parts[-3] == "node_modules" and parts[-2][0] == "@"):
            data = json.loads(manifest.read_text())
            if "version" in data and "name" in data:
                found[rel] = data["version"]
    return found


@pytest.fixture(scope="module")
def env() -> Path:
    if not (ENV / ".stamp").exists():
        pytest.fail(f"{ENV} is not installed: run `make node-tools`")
    return ENV


def test_every_locked_package_is_installed_at_its_version(env: Path) -> None:
    packages = json.loads(LOCK.read_text())["packages"]
    got = installed(env)
    wanted = {path: entry["version"] for path, entry in packages.items() if path and not entry.get("optional")}
    assert {path: got.get(path) for path in wanted} == wanted


def test_nothing_unlocked_is_installed(env: Path) -> None:
    packages = json.loads(LOCK.read_text())["packages"]
    stray = {path: version for path, version in installed(env).items() if path not in packages}
    assert stray == {}


def test_every_locked_package_is_integrity_pinned() -> None:
    packages = json.loads(LOCK.read_text())["packages"]
    loose = [path for path, entry in packages.items() if path and not entry.get("link") and "integrity" not in entry]
    assert loose == []
    assert json.loads(LOCK.read_text())["lockfileVersion"] == 3


def test_the_lock_matches_package_json() -> None:
    manifest = json.loads((ROOT / "tools" / "node" / "package.json").read_text())
    root = json.loads(LOCK.read_text())["packages"][""]
    assert root["dependencies"] == manifest["dependencies"]
    assert all(not spec.startswith(("^", "~", ">")) for spec in manifest["dependencies"].values())
