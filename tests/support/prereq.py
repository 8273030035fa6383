"""Missing prerequisites (a tool, an image, a Docker engine, shared data): a skip that says why on a developer's
machine, a failure under CI=true, where everything is installed and a skip would hide a lost check.

`unavailable(reason)` is the one place the suites decide; `tool(name, hint)`
covers the common case. The root conftest.py loads this module as a plugin in every suite: any other skip (a
skipif marker, an importorskip, a module-level skip) reports as a failure under CI=true too, with its reason."""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator
from typing import Any, NoReturn

import pytest

IN_CI = "CI=true: nothing may be skipped"


def ci() -> bool:
    return os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """Stop this test: it cannot run here. Under CI=true that is a failure, elsewhere a skip with ``reason``."""
    if ci():
        pytest.fail(f"{reason} ({IN_CI})", pytrace=False)
    pytest.skip(reason=reason)


def tool(name: str, hint: str = "tools/apt-packages.txt") -> str:
    """The path of an executable on PATH, or ``unavailable``."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not installed ({hint})")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped: {reason} ({IN_CI})"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if ci() and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid} skipped: {reason} ({IN_CI})"
