"""The dashboard's sign-in in headless Chromium through Nginx, on the stack with auth on (compose.auth.yaml),
and per-source health on the same stack given two sources, one of them unreachable (compose.sources.yaml)."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.support.stack import Stack
from tests.ui.conftest import Fleet, Watched, axe_violations, screenshot


@pytest.fixture(scope="module")
def token_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ui-token")
    (directory / "token").write_text(base64.b64encode(os.urandom(24)).decode() + "\n")
    directory.chmod(0o755)
    (directory / "token").chmod(0o644)
    return directory


@pytest.fixture(scope="module")
def stack(fleet: Fleet, token_dir: Path) -> Iterator[Stack]:
    s = Stack(
        compose_files=(
            "compose.yaml",
            "compose.auth.yaml",
            "tests/ui/compose.sources.yaml",
            "tests/ui/compose.patient.yaml",
        ),
        env={"API_TOKEN_DIR": str(token_dir), "LOGIN_RATE_LIMIT": "6r/m", "LOGIN_RATE_BURST": "6"},
    )
    s.up()
    try:
        yield s
    finally:
        s.down()


def test_sign_in_once_then_browse_then_sign_out(
    stack: Stack, token_dir: Path, watched: Watched, axe_source: str
) -> None:
    watched.expected_statuses.add(401)  # the wrong-token attempt below
    page, token = watched.page, (token_dir / "token").read_text().strip()
    page.goto(stack.url + "/ui/posture")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/posture$"))
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    screenshot(page, "login")
    assert axe_violations(page, axe_source) == []

    page.get_by_label("API token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That token is not valid.")

    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(stack.url + "/ui/posture")  # back where the user wanted to go
    expect(page.get_by_role("heading", name="Posture", exact=True)).to_be_visible()

    cookies = {c["name"]: c for c in page.context.cookies()}
    cookie = cookies["inventory_ui"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui/"
    assert not cookie["secure"]  # plain HTTP on 127.0.0.1; Secure whenever the request came over TLS
    assert token not in cookie["value"]

    # Asked once: other pages open without signing in again.
    page.get_by_role("link", name="Containers").click()
    expect(page.get_by_role("heading", name="Containers", exact=True)).to_be_visible()
    # The cookie opens the UI only; the API still wants the bearer token.
    assert page.request.get(stack.url + "/api/containers").status == 401

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    # The signed-in cookie is gone (the login page may start a fresh, anonymous one for its CSRF token).
    after = {c["name"]: c["value"] for c in page.context.cookies()}
    assert after.get("inventory_ui") != cookie["value"]
    page.goto(stack.url + "/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/$"))


def test_per_source_health_and_partial_answers(
    stack: Stack, token_dir: Path, fleet: Fleet, watched: Watched, axe_source: str
) -> None:
    page = watched.page
    page.goto(stack.url + "/ui/sources")
    page.get_by_label("API token").fill((token_dir / "token").read_text().strip())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sources", exact=True)).to_be_visible()
    rows = page.locator("#source-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="local")).to_contain_text("ok")
    expect(rows.filter(has_text="offline")).to_contain_text("unavailable")
    expect(page.get_by_role("img", name=re.compile("^Containers by source"))).to_be_visible()
    # Every page says the answer is partial, and still shows the source that answers.
    expect(page.locator("#partial")).to_contain_text("offline")
    screenshot(page, "sources")
    assert axe_violations(page, axe_source) == []
    page.goto(stack.url + f"/ui/containers?name={fleet.insecure}")
    expect(page.locator("#partial")).to_be_visible()
    expect(page.locator("#containers tbody tr")).to_have_count(1)
    watched.expected_statuses.add(503)  # only this source selected, and it is down
    page.get_by_label("Source").select_option("offline")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("source offline is unavailable")
    page.get_by_label("Source").select_option("local")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#containers tbody tr")).to_contain_text(fleet.insecure)


# Last in this module: it uses up the sign-in rate limit for this client address.
def test_forms_need_csrf_and_sign_in_is_rate_limited(stack: Stack, token_dir: Path) -> None:
    token = (token_dir / "token").read_text().strip()
    with requests.Session() as http:
        # No CSRF token (a cross-site form post): refused even with the right API token.
        assert http.post(stack.url + "/ui/login", data={"token": token}, timeout=5).status_code == 400
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get(stack.url + "/ui/login", timeout=5).text)
        assert csrf is not None
        signed_in = http.post(stack.url + "/ui/login", data={"token": token, "csrf": csrf.group(1)}, timeout=5)
        assert signed_in.status_code == 200 and signed_in.url == stack.url + "/ui/"
        assert http.post(stack.url + "/ui/logout", data={}, timeout=5).status_code == 400
        assert http.get(stack.url + "/ui/", timeout=5, allow_redirects=False).status_code == 200  # still signed in
        # Sign-in attempts are limited per client at the edge (6/min, burst 6 here): guessing stops with 429.
        guesses = [http.post(stack.url + "/ui/login", data={"token": "guess"}, timeout=5) for _ in range(12)]
        statuses = [r.status_code for r in guesses]
        assert statuses[0] == 400 and statuses[-1] == 429, statuses
        assert guesses[-1].headers["Content-Type"] == "application/problem+json"
        # Reading pages is not affected by the sign-in limit.
        assert http.get(stack.url + "/ui/login", timeout=5).status_code == 200
