"""Dashboard views through the real app factory (Flask test client, recorded backend at the Backend boundary).

The browser suite (tests/ui) runs the same pages in Chromium through Nginx on a real stack.
"""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from conftest import RecordedBackend, make_app
from inventory.ui.charts import bar_chart, line_chart
from inventory.ui.views import CSP

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def insecure_running(backend: RecordedBackend) -> RecordedBackend:
    """legacy-db (root, writable rootfs, no limits...) running, so posture has findings to show."""
    for entry in backend.listing:
        if entry["Names"] == ["/legacy-db"]:
            entry["State"] = "running"
    return backend


@pytest.fixture()
def ui(insecure_running: RecordedBackend) -> Any:
    return make_app(insecure_running).test_client()


def text(resp: Any) -> str:
    return resp.get_data(as_text=True)


def test_every_page_renders_with_strict_headers(ui: Any) -> None:
    for path in ("/ui/", "/ui/containers", "/ui/posture", "/ui/containers/legacy-db"):
        resp = ui.get(path)
        assert resp.status_code == 200, path
        assert resp.mimetype == "text/html"
        assert resp.headers["Content-Security-Policy"] == CSP
        assert resp.headers["Cache-Control"] == "no-store"
        body = text(resp)
        # No script and no inline style anywhere: the CSP allows neither, and the UI needs neither.
        assert "<script" not in body and "style=" not in body and " on" + "click" not in body
        assert '<html lang="en">' in body and '<main id="main">' in body


def test_csp_is_the_same_at_the_edge() -> None:
    snippet = (ROOT / "nginx/snippets/ui-security-headers.conf").read_text()
    edge = re.search(r'Content-Security-Policy "([^"]+)"', snippet)
    assert edge is not None and edge.group(1) == CSP
    assert "script-src" not in CSP and "'unsafe-inline'" not in CSP


def test_inventory_filters(ui: Any) -> None:
    body = text(ui.get("/ui/containers"))
    assert "inventory_nginx-proxy_1" in body and "legacy-db" in body and "Showing 1 to 3 of 3" in body
    body = text(ui.get("/ui/containers?name=nginx&image=&state=&label="))  # empty form fields mean "any"
    assert "inventory_nginx-proxy_1" in body and "legacy-db" not in body and "of 1 container." in body
    body = text(ui.get("/ui/containers?label=tier=db"))
    assert "legacy-db" in body and "nginx-proxy_1" not in body
    body = text(ui.get("/ui/containers?image=socket-proxy"))
    assert "inventory_socket-proxy_1" in body and "of 1 container." in body
    body = text(ui.get("/ui/containers?name=does-not-exist"))
    assert "No container matches these filters" in body


def test_stopped_containers_only_when_asked(backend: RecordedBackend) -> None:
    client = make_app(backend).test_client()
    assert "legacy-db" not in text(client.get("/ui/containers"))
    assert "legacy-db" in text(client.get("/ui/containers?all=true"))
    assert "legacy-db" in text(client.get("/ui/containers?state=exited"))


def test_bad_filter_is_a_message_on_the_page(ui: Any) -> None:
    resp = ui.get("/ui/containers?state=sleeping")
    assert resp.status_code == 400
    assert "state must be one of" in text(resp) and 'role="alert"' in text(resp)
    resp = ui.get("/ui/containers?page=-1")
    assert resp.status_code == 400 and "page must be a positive integer" in text(resp)


def test_paging(insecure_running: RecordedBackend) -> None:
    base = insecure_running.listing[0]
    for i in range(12):
        insecure_running.listing.append(dict(base, Id=f"{i:02d}" + "e" * 62, Names=[f"/bulk-{i:02d}"]))
    client = make_app(insecure_running).test_client()
    first = text(client.get("/ui/containers?name=bulk-&limit=10"))
    assert "Showing 1 to 10 of 12" in first and "bulk-09" in first and "bulk-10" not in first
    assert 'rel="next" href="/ui/containers?name=bulk-&amp;limit=10&amp;page=2"' in first
    second = text(client.get("/ui/containers?name=bulk-&limit=10&page=2"))
    assert "Showing 11 to 12 of 12" in second and "bulk-11" in second and 'rel="prev"' in second
    # past the end: the last page, not an error
    assert "Showing 11 to 12 of 12" in text(client.get("/ui/containers?name=bulk-&limit=10&page=9"))


def test_container_page_shows_findings_with_remediation(ui: Any) -> None:
    body = text(ui.get("/ui/containers/legacy-db"))
    assert "<h1>legacy-db</h1>" in body
    assert "run-as-root" in body and "Run as a numeric non-root user" in body
    assert ui.get("/ui/containers/nope-nope").status_code == 404
    resp = ui.get("/ui/containers/nope-nope")
    assert resp.mimetype == "text/html" and "no container matches" in text(resp)


def test_posture_by_severity_and_rule(ui: Any) -> None:
    body = text(ui.get("/ui/posture"))
    assert '<svg role="img"' in body and '<title id="chart-severity-t">Open findings by severity</title>' in body
    assert 'id="rule-run-as-root"' in body and "Run as a numeric non-root user" in body
    high = text(ui.get("/ui/posture?severity=HIGH"))
    assert 'id="rule-run-as-root"' in high and 'id="rule-writable-rootfs"' not in high
    assert ui.get("/ui/posture?severity=URGENT").status_code == 400


def test_overview_chart_and_counts(ui: Any) -> None:
    body = text(ui.get("/ui/"))
    assert "Findings by severity" in body and 'role="img"' in body and "<desc id=" in body
    assert re.search(r'<span class="num">3</span> containers', body)


def test_backend_down_is_an_html_503(ui: Any, insecure_running: RecordedBackend) -> None:
    insecure_running.down = True
    resp = ui.get("/ui/containers")
    assert resp.status_code == 503 and resp.mimetype == "text/html"
    assert "Container backend unavailable" in text(resp)


def test_unknown_page_is_an_html_404(ui: Any) -> None:
    resp = ui.get("/ui/nothing/here")
    assert resp.status_code == 404 and resp.mimetype == "text/html"


def test_nothing_in_the_ui_changes_state(ui: Any) -> None:
    """Only sign-in and sign-out accept POST; every other dashboard route is read-only."""
    app = ui.application
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/ui"):
            continue
        methods = set(rule.methods or ()) - {"HEAD", "OPTIONS"}
        if rule.endpoint in ("ui.login",):
            assert methods == {"GET", "POST"}
        elif rule.endpoint == "ui.logout":
            assert methods == {"POST"}
        else:
            assert methods == {"GET"}, rule
    assert ui.post("/ui/containers").status_code == 405


def test_static_assets_are_versioned_and_cacheable(ui: Any) -> None:
    body = text(ui.get("/ui/"))
    href = re.search(r'href="(/ui/static/ui\.css\?v=[0-9a-f]{12})"', body)
    assert href is not None
    resp = ui.get(href.group(1))
    assert resp.status_code == 200 and "max-age=86400" in resp.headers["Cache-Control"]
    assert "Vary" not in resp.headers


def test_bar_chart_geometry() -> None:
    chart = bar_chart("Findings", {"CRITICAL": 0, "HIGH": 4, "MEDIUM": 2})
    widths = [b.width for b in chart.bars]
    assert widths[0] == 0 and widths[1] == 2 * widths[2] and widths[1] == chart.width - chart.label_width - 50
    assert chart.description == "Findings. CRITICAL: 0, HIGH: 4, MEDIUM: 2."
    assert all(b.width == 0 for b in bar_chart("Empty", {"A": 0}).bars)


def test_line_chart_geometry() -> None:
    from datetime import datetime, timedelta

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    chart = line_chart("Trend", {"HIGH": [(t0, 0), (t0 + timedelta(hours=1), 4)], "LOW": [(t0, 2)]})
    assert chart is not None
    high = chart.series[0]
    assert high.points[0].x == chart.left and high.points[-1].x == chart.width - 10
    assert high.points[-1].y == 10 and high.points[0].y == chart.height - chart.bottom
    assert high.path.startswith("M40.0,") and " L" in high.path
    assert line_chart("One point", {"HIGH": [(t0, 1)]}) is None


def test_waivers_are_shown_with_owner_reason_and_expiry(insecure_running: RecordedBackend) -> None:
    from datetime import date, timedelta

    from inventory.posture import Target, Waiver

    app = make_app(insecure_running)
    expires = date.today() + timedelta(days=30)
    waiver = Waiver("run-as-root", Target(name="legacy-db"), "vendor image, tracked in OPS-12", "db-team", expires)
    app.extensions["inventory"].waivers = [waiver]
    client = app.test_client()
    page = text(client.get("/ui/containers/legacy-db"))
    assert "waived)" in page or "1 waived" in page
    assert f'waived until <time datetime="{expires.isoformat()}">' in page
    assert "by db-team (file): vendor image, tracked in OPS-12" in page
    posture = text(client.get("/ui/posture"))
    row = posture.split('id="rule-run-as-root"')[1].split("</tr>")[0]
    assert "<td>0</td>\n    <td>1</td>" in row  # open 0, waived 1
