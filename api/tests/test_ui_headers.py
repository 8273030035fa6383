"""The app's own response headers on every dashboard answer (pages, static assets, errors, login): nginx adds
the same at the edge, but the app promises them itself (a deployment without that nginx still gets them)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import RecordedBackend, make_app
from inventory.ui.views import CSP

PATHS = ("/ui/", "/ui/containers", "/ui/posture", "/ui/static/ui.css", "/ui/containers/no-such-container")


@pytest.fixture()
def ui(backend: RecordedBackend) -> Any:
    return make_app(backend).test_client()


@pytest.mark.parametrize("path", PATHS)
def test_app_sends_nosniff_and_csp(ui: Any, path: str) -> None:
    resp = ui.get(path)
    assert resp.status_code in (200, 404), path
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    assert resp.headers.get("Content-Security-Policy") == CSP
