"""Under CI=true nothing is skipped: every way a test can skip (the shared `unavailable`/`tool` helpers, a skipif
marker, pytest.skip, an importorskip at module level) is a failure that carries the reason; elsewhere it stays a
skip. Checked by running pytest on a throw-away suite with the plugin the root conftest.py loads."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = """
import pytest
from tests.support.prereq import tool, unavailable

@pytest.mark.skipif(True, reason="marker-reason")
def test_marker(): pass

def test_helper(): unavailable("helper-reason")

def test_tool(): tool("no-such-tool-anywhere", "tool-hint")

def test_imperative(): pytest.skip("imperative-reason")

@pytest.mark.xfail(reason="known", strict=True)
def test_xfail(): assert False

def test_ok(): pass
"""


def run(tmp_path: Path, ci: bool) -> str:
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "test_module_skip.py").write_text("import pytest\npytest.importorskip('no_such_module_here')\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {
        "PYTHONPATH": str(ROOT),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    if ci:
        env["CI"] = "true"
    argv = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "tests.support.prereq"]
    proc = subprocess.run(
        [*argv, "--continue-on-collection-errors", "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("ci", [True, False], ids=["CI=true", "developer"])
def test_skips_fail_only_under_ci(tmp_path: Path, ci: bool) -> None:
    out = run(tmp_path, ci)
    reasons = ("marker-reason", "helper-reason", "no-such-tool-anywhere not installed (tool-hint)", "imperative-reason")
    for reason in (*reasons, "no_such_module_here"):
        assert reason in out, out
    if ci:
        assert "3 failed, 1 passed, 1 xfailed, 2 errors" in out, out  # skips at setup and collection: errors
    else:
        assert "1 passed, 5 skipped, 1 xfailed" in out, out


def test_the_root_conftest_loads_the_plugin() -> None:
    assert runpy.run_path(str(ROOT / "conftest.py"))["pytest_plugins"] == ["tests.support.prereq"]
