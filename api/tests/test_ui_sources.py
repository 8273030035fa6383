"""Dashboard over several sources (recorded engines at the Backend boundary): per-source health, the source
filter and column, and the partial-answer banner when one source is down."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Clock, RecordedBackend, make_fleet_app

NAMES = ("local", "edge-1")


@pytest.fixture()
def backends() -> dict[str, RecordedBackend]:
    return {name: RecordedBackend() for name in NAMES}


@pytest.fixture()
def client(backends: dict[str, RecordedBackend]) -> Any:
    return make_fleet_app(backends).test_client()


def text(resp: Any) -> str:
    return resp.get_data(as_text=True)


def test_sources_page_and_overview_show_health(client: Any) -> None:
    page = text(client.get("/ui/sources"))
    assert "2 of 2 sources answering" in page
    assert page.count('<span class="status-up">ok</span>') == 2
    assert '<title id="chart-sources-t">Containers by source</title>' in page
    overview = text(client.get("/ui/"))
    assert 'id="source-table"' in overview and 'href="/ui/sources"' in overview
    assert 'id="partial"' not in overview


def test_source_filter_and_column(client: Any, backends: dict[str, RecordedBackend]) -> None:
    every = text(client.get("/ui/containers?all=true"))
    assert "Showing 1 to 6 of 6" in every and '<th scope="col">Source</th>' in every
    assert '<option value="edge-1">edge-1</option>' in every
    edge = text(client.get("/ui/containers?all=true&source=edge-1"))
    assert "Showing 1 to 3 of 3" in edge and '<option value="edge-1" selected>' in edge
    engine_id = backends["edge-1"].listing[0]["Id"]
    assert f'href="/ui/containers/edge-1:{engine_id}"' in edge
    bad = client.get("/ui/containers?source=nope")
    assert bad.status_code == 400 and "source must be one of local, edge-1" in text(bad)
    detail = text(client.get(f"/ui/containers/edge-1:{engine_id}"))
    assert "<dt>Source</dt><dd>edge-1</dd>" in detail


def test_one_source_down_is_a_banner_not_an_error(
    client: Any, backends: dict[str, RecordedBackend], clock: Clock
) -> None:
    backends["edge-1"].down = True
    for path in ("/ui/", "/ui/containers?all=true", "/ui/posture", "/ui/sources"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert 'id="partial"' in text(resp) and "source <strong>edge-1</strong> is unavailable" in text(resp)
    assert "Showing 1 to 3 of 3" in text(client.get("/ui/containers?all=true"))
    assert "1 of 2 sources answering" in text(client.get("/ui/sources"))
    only = client.get("/ui/containers?source=edge-1")
    assert only.status_code == 503 and "source edge-1 is unavailable" in text(only)
    assert '<option value="local">local</option>' in text(only)  # the form stays, to pick another source
    # local lost its engine after a good sync: shown as of that sync, with a stale banner, for the grace period.
    backends["local"].down = True
    stale = client.get("/ui/containers?all=true")
    assert stale.status_code == 200 and 'id="stale"' in text(stale) and "Showing 1 to 3 of 3" in text(stale)
    assert "source <strong>local</strong> lost its engine" in text(stale)
    assert '<span class="status-degraded">stale</span>' in text(client.get("/ui/sources"))
    clock.advance(16)  # LIVE_STALE_GRACE (15 s) is over
    assert client.get("/ui/containers").status_code == 503
