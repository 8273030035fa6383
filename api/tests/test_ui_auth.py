"""Dashboard sign-in: token asked once, signed HttpOnly/SameSite=Strict cookie, CSRF on both forms, logout."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import RecordedBackend, make_app

TOKEN = "ui-unit-test-token-1"


@pytest.fixture()
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture()
def client(backend: RecordedBackend, token_file: Path) -> Any:
    return make_app(backend, API_TOKEN_FILE=str(token_file)).test_client()


def csrf_of(body: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', body)
    assert found is not None, "form without a CSRF field"
    return found.group(1)


def sign_in(client: Any, token: str = TOKEN, next_: str = "/ui/") -> Any:
    csrf = csrf_of(client.get("/ui/login").get_data(as_text=True))
    return client.post("/ui/login", data={"csrf": csrf, "token": token, "next": next_})


def test_pages_redirect_to_sign_in(client: Any) -> None:
    resp = client.get("/ui/containers?name=x")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/ui/login?next=/ui/containers?name%3Dx"
    assert client.get("/ui/static/ui.css").status_code == 200  # the login page needs its stylesheet


def test_sign_in_sets_a_strict_cookie_and_returns_to_the_page(client: Any) -> None:
    resp = sign_in(client, next_="/ui/posture")
    assert resp.status_code == 303 and resp.headers["Location"] == "/ui/posture"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("inventory_ui=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the TLS test below
    assert TOKEN not in cookie
    page = client.get("/ui/containers")
    assert page.status_code == 200 and "Sign out" in page.get_data(as_text=True)
    # The cookie is for the UI only: the API still wants the bearer token.
    assert client.get("/api/containers").status_code == 401


def test_cookie_is_secure_behind_tls(client: Any) -> None:
    csrf = csrf_of(client.get("/ui/login").get_data(as_text=True))
    resp = client.post("/ui/login", data={"csrf": csrf, "token": TOKEN}, headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in resp.headers["Set-Cookie"]


def test_wrong_token_and_missing_csrf_are_refused(client: Any) -> None:
    resp = sign_in(client, token="wrong")
    assert resp.status_code == 401 and "That token is not valid." in resp.get_data(as_text=True)
    resp = client.post("/ui/login", data={"token": TOKEN})
    assert resp.status_code == 400 and "The form expired" in resp.get_data(as_text=True)
    assert client.get("/ui/").status_code == 302


def test_no_open_redirect(client: Any) -> None:
    for target in ("https://evil.example/", "//evil.example/ui/", "/api/containers", "/ui\\..\\x"):
        resp = sign_in(client, next_=target)
        assert resp.headers["Location"] == "/ui/", target
        client.post("/ui/logout", data={"csrf": csrf_of(client.get("/ui/").get_data(as_text=True))})


def test_logout_needs_csrf_and_clears_the_session(client: Any) -> None:
    sign_in(client)
    assert client.post("/ui/logout", data={}).status_code == 400
    assert client.get("/ui/").status_code == 200
    csrf = csrf_of(client.get("/ui/").get_data(as_text=True))
    resp = client.post("/ui/logout", data={"csrf": csrf})
    assert resp.status_code == 303 and resp.headers["Location"] == "/ui/login"
    assert "inventory_ui=;" in resp.headers["Set-Cookie"]  # cookie deleted
    assert client.get("/ui/").status_code == 302


def test_rotating_the_token_ends_sessions(client: Any, token_file: Path) -> None:
    sign_in(client)
    assert client.get("/ui/").status_code == 200
    token_file.write_text("a-completely-new-token-value\n")
    assert client.get("/ui/").status_code == 302


def test_separate_signing_key_file(backend: RecordedBackend, token_file: Path, tmp_path: Path) -> None:
    key = tmp_path / "ui-key"
    key.write_text("k" * 48)
    client = make_app(backend, API_TOKEN_FILE=str(token_file), UI_SECRET_KEY_FILE=str(key)).test_client()
    sign_in(client)
    assert client.get("/ui/").status_code == 200
    key.write_text("z" * 48)  # a new signing key invalidates every cookie signed with the old one
    assert client.get("/ui/").status_code == 302


def test_token_file_missing_fails_closed(client: Any, token_file: Path) -> None:
    token_file.unlink()
    resp = client.get("/ui/")
    assert resp.status_code == 503 and "Sign-in unavailable" in resp.get_data(as_text=True)
    assert client.get("/ui/login").status_code == 503


def test_no_cookie_at_all_without_auth(backend: RecordedBackend) -> None:
    client = make_app(backend).test_client()
    resp = client.get("/ui/containers")
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
    assert "Sign out" not in resp.get_data(as_text=True)
    assert client.get("/ui/login").status_code == 302
