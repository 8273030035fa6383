"""Browser suite fixtures: Debian's Chromium driven by Playwright, a real stack behind Nginx, axe-core.

Playwright never downloads a browser here: it launches /usr/bin/chromium (CHROMIUM) by executable_path.
axe-core comes from the npm lock in tools/node (AXE_JS, installed by `make axe-deps`). Every page a test
opens is watched for console errors, uncaught exceptions and failed requests; a test that leaves any
behind fails at teardown. Screenshots go to reports/ui/.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.support.stack import ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE_JS = Path(os.environ.get("AXE_JS", ROOT / ".venv-node/node_modules/axe-core/axe.min.js"))
ARTIFACTS = ROOT / "reports" / "ui"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BASE_IMAGE = "debian:bookworm-slim"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"the browser suite needs Chromium at {CHROMIUM} (tools/apt-packages.txt: chromium)")
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
    yield b
    b.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core not found at {AXE_JS}: run `make axe-deps` (npm ci from tools/node)")
    return AXE_JS.read_text()


@dataclass
class Watched:
    """A page plus everything that went wrong in it."""

    page: Page
    problems: list[str] = field(default_factory=list)
    # Statuses a test provokes on purpose (e.g. 401 for a wrong token); anything else >= 400 is a problem.
    expected_statuses: set[int] = field(default_factory=set)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            text = msg.text
            allowed = any(f"status of {s} " in text for s in self.expected_statuses)
            if not allowed:
                self.problems.append(f"console error: {text}")

    def attach(self) -> Watched:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("requestfailed", lambda req: self.problems.append(f"request failed: {req.url} {req.failure}"))
        self.page.on(
            "response",
            lambda resp: (
                self.problems.append(f"HTTP {resp.status} for {resp.url}")
                if resp.status >= 400 and resp.status not in self.expected_statuses
                else None
            ),
        )
        return self


@pytest.fixture()
def watched(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **getattr(request, "param", {}))
    w = Watched(context.new_page()).attach()
    yield w
    context.close()
    assert not w.problems, "\n".join(w.problems)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Page, source: str) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page (WCAG 2.x A/AA and best practices)."""
    # Injected through the DevTools protocol, so the page's CSP (no scripts at all) stays as it is.
    page.evaluate(source)
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@dataclass
class Fleet:
    """Containers the suite starts on the host engine so the dashboard has known things to show."""

    prefix: str
    insecure: str
    hardened: str
    bulk: list[str]


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    client = docker.from_env()
    prefix = f"uitest-{uuid.uuid4().hex[:6]}"
    common: dict[str, Any] = {"network_disabled": True, "detach": True}
    labels = {"org.container-inventory.test": "ui"}
    made = []
    try:
        made.append(
            client.containers.run(
                BASE_IMAGE,
                ["sleep", "3600"],
                name=f"{prefix}-insecure",
                labels={**labels, "tier": "web"},
                cap_add=["NET_ADMIN"],
                **common,
            )
        )
        made.append(
            client.containers.run(
                BASE_IMAGE,
                ["sleep", "3600"],
                name=f"{prefix}-hardened",
                labels={**labels, "tier": "db"},
                user="65534:65534",
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit="32m",
                healthcheck={"test": ["CMD", "true"], "interval": 5_000_000_000},
                **common,
            )
        )
        bulk = []
        for i in range(11):
            c = client.containers.create(BASE_IMAGE, ["true"], name=f"{prefix}-bulk-{i:02d}", labels=labels)
            made.append(c)
            bulk.append(c.name)
        yield Fleet(prefix, f"{prefix}-insecure", f"{prefix}-hardened", bulk)
    finally:
        for c in made:
            c.remove(force=True)
