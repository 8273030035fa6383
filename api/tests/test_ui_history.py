"""Dashboard sections that read the history (timeline, container history, trend) on a real SQLite database
written by the real recorder; and their absence when the deployment records no history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import RecordedBackend, make_app, service_for
from inventory.history import db
from inventory.recorder.loop import Recorder
from inventory.recorder.store import HistoryStore
from inventory.ui import timeline


@pytest.fixture()
def recorded(backend: RecordedBackend, tmp_path: Path) -> str:
    """Two recorder cycles: everything appears, then legacy-db (insecure) runs and its findings open."""
    url = f"sqlite:///{tmp_path / 'history.db'}"
    db.upgrade(db.make_engine(url))
    service = service_for(backend, CACHE_TTL="0", INSPECT_CACHE_TTL="0")
    rec = Recorder(service, HistoryStore(db.make_engine(url)), retention_days=30)
    rec.cycle()
    for entry in backend.listing:
        if entry["Names"] == ["/legacy-db"]:
            entry["State"] = "running"
    rec.cycle()
    return url


def text(resp: Any) -> str:
    return resp.get_data(as_text=True)


def test_sections_appear_with_history(backend: RecordedBackend, recorded: str) -> None:
    client = make_app(backend, DATABASE_URL=recorded).test_client()
    overview = text(client.get("/ui/"))
    assert 'href="/ui/changes"' in overview  # the menu item
    assert "Recent changes" in overview and "legacy-db</a> new finding" in overview
    assert 'aria-labelledby="chart-trend-t chart-trend-d"' in overview
    assert "Trend of open findings by severity, last 24 hours" in overview
    posture = text(client.get("/ui/posture"))
    assert "Trend of open findings by severity, last 7 days" in posture
    page = text(client.get("/ui/containers/legacy-db"))
    assert '<h2 id="history">History</h2>' in page and "new finding <code>run-as-root</code>" in page


def test_timeline_filters_and_paging(backend: RecordedBackend, recorded: str, monkeypatch: Any) -> None:
    client = make_app(backend, DATABASE_URL=recorded).test_client()
    body = text(client.get("/ui/changes?kind=finding_opened&rule=&container="))
    assert "new finding" in body and " appeared</li>" not in body
    body = text(client.get("/ui/changes?kind=appeared"))
    assert body.count("<li><time") == 3 and "legacy-db</a> appeared" in body
    bad = client.get("/ui/changes?kind=exploded")
    assert bad.status_code == 400 and "kind must be one of" in text(bad)
    monkeypatch.setattr(timeline, "PAGE_SIZE", 2)
    first = text(client.get("/ui/changes"))
    assert first.count("<li><time") == 2 and "Older changes" in first and "Newest changes" not in first
    older = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = text(client.get(older))
    assert second.count("<li><time") == 2 and "Newest changes" in second


def test_gone_container_shows_its_history(backend: RecordedBackend, recorded: str) -> None:
    backend.listing[:] = [e for e in backend.listing if e["Names"] != ["/legacy-db"]]
    client = make_app(backend, DATABASE_URL=recorded).test_client()
    resp = client.get("/ui/containers/legacy-db")
    assert resp.status_code == 404 and "no longer exists" in text(resp) and "appeared" in text(resp)


def test_without_history_the_sections_are_left_out(backend: RecordedBackend, tmp_path: Path) -> None:
    client = make_app(backend, DATABASE_URL=f"sqlite:///{tmp_path}/missing/history.db").test_client()
    overview = text(client.get("/ui/"))
    assert overview.count('role="img"') == 1  # severity chart only, no trend
    assert "Recent changes" not in overview and 'href="/ui/changes"' not in overview
    assert '<h2 id="history">' not in text(client.get("/ui/containers/inventory_nginx-proxy_1"))
    resp = client.get("/ui/changes")
    assert resp.status_code == 503 and "History unavailable" in text(resp)
