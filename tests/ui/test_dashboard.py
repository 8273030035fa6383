"""The dashboard in headless Chromium, through Nginx, on the real stack (auth off): pages, filters, paging,
no-JavaScript use, no console errors, axe-core, and the edge's headers and caching for /ui/."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import docker
import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from tests.support.stack import Stack
from tests.ui.conftest import Fleet, Watched, axe_violations, screenshot


@pytest.fixture(scope="module")
def stack(fleet: Fleet) -> Iterator[Stack]:
    s = Stack(compose_files=("compose.yaml", "tests/ui/compose.patient.yaml"))
    s.up()
    try:
        yield s
    finally:
        s.down()


def test_overview_loads_with_charts(stack: Stack, watched: Watched, axe_source: str) -> None:
    page = watched.page
    page.goto(stack.url + "/ui/")
    expect(page).to_have_title(re.compile("Overview"))
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("^Open findings by severity"))
    expect(chart).to_be_visible()
    # The bar for HIGH is drawn: the suite's insecure container adds a capability and runs as root.
    expect(chart.locator("rect.sev-high")).to_have_count(1)
    screenshot(page, "overview")
    assert axe_violations(page, axe_source) == []


def test_filters_and_paging(stack: Stack, fleet: Fleet, watched: Watched, axe_source: str) -> None:
    page = watched.page
    page.goto(stack.url + "/ui/containers")
    page.get_by_label("Name contains").fill(fleet.prefix)
    page.get_by_label("Include stopped").check()
    page.get_by_label("Per page").select_option("10")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#result-summary")).to_have_text(re.compile(r"Showing 1 to 10 of 13 containers"))
    rows = page.locator("#containers tbody tr")
    expect(rows).to_have_count(10)
    screenshot(page, "containers")
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#result-summary")).to_have_text(re.compile(r"Showing 11 to 13 of 13"))
    expect(rows).to_have_count(3)
    assert axe_violations(page, axe_source) == []

    # Label and state filters, and the filters survive in the form.
    page.goto(stack.url + f"/ui/containers?name={fleet.prefix}&label=tier=db")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(fleet.hardened)
    expect(page.get_by_label("Label (key or key=value)")).to_have_value("tier=db")
    page.goto(stack.url + f"/ui/containers?name={fleet.prefix}&state=created")
    expect(rows).to_have_count(len(fleet.bulk))  # created, never started; 25 per page by default
    page.get_by_role("link", name="Clear filters").click()
    expect(page.get_by_label("Name contains")).to_have_value("")


def test_bad_filter_shows_a_message(stack: Stack, watched: Watched) -> None:
    watched.expected_statuses.add(400)
    page = watched.page
    page.goto(stack.url + "/ui/containers?state=sleeping")
    expect(page.get_by_role("alert")).to_contain_text("state must be one of")


def test_container_page_findings_and_remediation(stack: Stack, fleet: Fleet, watched: Watched, axe_source: str) -> None:
    page = watched.page
    page.goto(stack.url + f"/ui/containers?name={fleet.insecure}")
    page.get_by_role("link", name=fleet.insecure).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(fleet.insecure)
    table = page.locator("#finding-table")
    expect(table).to_contain_text("added-capabilities")
    expect(table).to_contain_text("run-as-root")
    expect(table).to_contain_text("Drop ALL capabilities")  # the catalog's remediation
    expect(page.get_by_text("NET_ADMIN")).to_be_visible()
    screenshot(page, "container")
    assert axe_violations(page, axe_source) == []


def test_posture_by_severity_and_rule(stack: Stack, fleet: Fleet, watched: Watched, axe_source: str) -> None:
    page = watched.page
    page.goto(stack.url + "/ui/posture")
    expect(page.get_by_role("img", name=re.compile("^Open findings by severity"))).to_be_visible()
    row = page.locator("#rule-added-capabilities")
    expect(row).to_contain_text("Drop ALL capabilities")
    row.locator("summary").click()
    expect(row.get_by_role("link", name=fleet.insecure)).to_be_visible()
    screenshot(page, "posture")
    assert axe_violations(page, axe_source) == []
    page.get_by_role("link", name=re.compile(r"^LOW \(")).click()
    expect(page.locator("#rule-table tbody tr").first).to_contain_text("LOW")
    expect(page.locator("#rule-added-capabilities")).to_have_count(0)


@pytest.mark.parametrize("watched", [{"java_script_enabled": False}], indirect=True)
def test_works_without_javascript(stack: Stack, fleet: Fleet, watched: Watched) -> None:
    page = watched.page
    page.goto(stack.url + "/ui/containers")
    page.get_by_label("Name contains").fill(fleet.hardened)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#containers tbody tr")).to_have_count(1)
    page.get_by_role("link", name=fleet.hardened).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(fleet.hardened)


def test_edge_headers_caching_and_methods(stack: Stack) -> None:
    resp = stack.get("/ui/containers")
    assert resp.status_code == 200, resp.text
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "style-src 'self'" in csp
    assert resp.raw.headers.getlist("Content-Security-Policy") == [csp]  # the edge's, once
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["Cache-Control"] == "no-store"
    assert "X-Cache-Status" not in resp.headers  # pages are never cached by Nginx
    css = re.search(r'href="(/ui/static/ui\.css\?v=[0-9a-f]+)"', resp.text)
    assert css is not None
    first, second = stack.get(css.group(1)), stack.get(css.group(1))
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/css")
    assert "max-age=86400" in first.headers["Cache-Control"]
    assert second.headers["X-Cache-Status"] == "HIT"
    assert requests.post(stack.url + "/ui/containers", timeout=5).status_code == 403
    assert requests.delete(stack.url + "/ui/", timeout=5).status_code == 403
    # /ui without the slash lands on the dashboard.
    assert stack.get("/ui", allow_redirects=False).headers["Location"] == "/ui/"


def test_history_timeline_trend_and_container_history(
    stack: Stack, fleet: Fleet, watched: Watched, axe_source: str
) -> None:
    """The stack's recorder writes history; a container stopped now shows up in the timeline."""
    page = watched.page
    page.goto(stack.url + "/ui/")
    expect(
        page.get_by_role("img", name=re.compile("^Trend of open findings by severity, last 24 hours"))
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Recent changes")).to_be_visible()
    screenshot(page, "overview-history")

    client = docker.from_env()
    mover = client.containers.run(
        "debian:bookworm-slim",
        ["sleep", "3600"],
        name=f"uimove-{uuid.uuid4().hex[:6]}",
        labels={"org.container-inventory.test": "ui"},
        network_disabled=True,
        detach=True,
    )
    try:
        timeline = page.locator("ul.timeline")
        page.goto(stack.url + f"/ui/changes?container={mover.name}")
        _reload_until(page, timeline, "appeared")
        mover.stop(timeout=1)
        _reload_until(page, timeline, "stopped")
        screenshot(page, "changes")
        assert axe_violations(page, axe_source) == []
        # The filter form: finding changes of one rule only.
        page.get_by_label("Container (name, id or workload)").fill("")
        page.get_by_label("Kind").select_option("finding_opened")
        page.get_by_label("Rule id").fill("added-capabilities")
        page.get_by_role("button", name="Filter").click()
        _reload_until(page, timeline, fleet.insecure)
        items = timeline.locator("li")
        for i in range(items.count()):
            expect(items.nth(i)).to_contain_text("new finding added-capabilities")
        # The container page carries its own history.
        page.goto(stack.url + f"/ui/containers/{mover.name}")
        expect(page.locator("#history + ul.timeline")).to_contain_text("stopped")
    finally:
        mover.remove(force=True)


def _reload_until(page: Page, locator: Locator, text: str, timeout: float = 30) -> None:
    """The recorder writes within a second or so; reload (no JavaScript polling) until the text is there."""
    deadline = time.monotonic() + timeout
    while True:
        if locator.count() and text in locator.first.inner_text():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in {page.url} after {timeout}s: {locator.all_inner_texts()}")
        time.sleep(1)
        page.reload()
