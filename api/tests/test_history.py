"""History: diff rules, workload identity, the recorder on a real SQLite database, the history API."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import RecordedBackend, load_fixture, make_app, service_for
from inventory.history import db
from inventory.history.models import Base
from inventory.model import Container
from inventory.posture import Target, Waiver
from inventory.recorder.diff import diff
from inventory.recorder.loop import Recorder
from inventory.recorder.observe import ContainerObs, FindingObs, Observation
from inventory.recorder.store import HistoryStore
from inventory.service import InventoryService
from inventory.workload import fingerprint, workload_identity
from test_api import validate

NOW = dt.datetime(2026, 11, 25, 12, 0, 0)


def obs(cid: str = "a" * 64, **kw: Any) -> ContainerObs:
    base = dict(
        source="local",
        id=cid,
        name="web",
        workload="name:web",
        image="web:1",
        image_id="sha256:1",
        state="running",
        health="healthy",
        started_at="2026-11-25T10:00:00Z",
        restart_count=0,
    )
    return ContainerObs(**(base | kw))


def finding(rule: str = "run-as-root", **kw: Any) -> FindingObs:
    base = dict(
        fingerprint=fingerprint("local", "name:web", rule),
        source="local",
        workload="name:web",
        rule=rule,
        severity="HIGH",
        container_id="a" * 64,
        container_name="web",
    )
    return FindingObs(**(base | kw))


def observation(*containers: ContainerObs, findings: tuple[FindingObs, ...] = ()) -> Observation:
    o = Observation()
    for c in containers:
        o.containers[(c.source, c.id)] = c
        o.evaluated.add((c.source, c.id))
    for f in findings:
        o.findings[f.fingerprint] = f
    return o


def kinds(events: list[Any]) -> list[str]:
    return [e.kind for e in events]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({}, {"state": "exited"}, ["stopped"]),
        ({"state": "created", "started_at": None}, {}, ["started"]),
        # started and stopped between two looks: still a stop; never started: nothing to record
        ({"state": "created", "started_at": None}, {"state": "exited"}, ["stopped"]),
        ({"state": "created", "started_at": None}, {"state": "exited", "started_at": None}, []),
        ({"state": "exited"}, {"started_at": "2026-11-25T11:00:00Z"}, ["restarted"]),
        ({}, {"started_at": "2026-11-25T11:00:00Z"}, ["restarted"]),
        ({"restart_count": 1}, {"restart_count": 2}, ["restarted"]),
        ({}, {"name": "web2"}, ["renamed"]),
        ({}, {"image_id": "sha256:2"}, ["image_changed"]),
        ({}, {"health": "unhealthy"}, ["health_changed"]),
        ({}, {}, []),
    ],
)
def test_container_changes(before: dict[str, Any], after: dict[str, Any], expected: list[str]) -> None:
    assert kinds(diff(observation(obs(**before)), observation(obs(**after)), NOW)) == expected


def test_appeared_disappeared_and_findings() -> None:
    first = diff(Observation(), observation(obs(), findings=(finding(),)), NOW)
    assert kinds(first) == ["appeared", "finding_opened"]
    assert first[1].rule == "run-as-root" and first[1].severity == "HIGH"
    gone = diff(observation(obs(), findings=(finding(),)), Observation(), NOW)
    assert kinds(gone) == ["disappeared", "finding_resolved"]


def test_waivers() -> None:
    expires = NOW - dt.timedelta(minutes=1)
    waived = finding(waived=True, waiver_expires=expires)
    assert kinds(diff(observation(obs(), findings=(finding(),)), observation(obs(), findings=(waived,)), NOW)) == [
        "finding_waived"
    ]
    back = diff(observation(obs(), findings=(waived,)), observation(obs(), findings=(finding(),)), NOW)
    assert kinds(back) == ["finding_waiver_expired"]
    withdrawn = finding(waived=True, waiver_expires=NOW + dt.timedelta(days=1))
    assert kinds(diff(observation(obs(), findings=(withdrawn,)), observation(obs(), findings=(finding(),)), NOW)) == [
        "finding_opened"
    ]


def test_unevaluated_container_keeps_its_findings() -> None:
    prev = observation(obs(), findings=(finding(),))
    cur = observation(obs())
    cur.evaluated.clear()  # inspect failed this time
    assert diff(prev, cur, NOW) == []
    assert list(cur.findings) == list(prev.findings)


def _container(**kw: Any) -> Container:
    base: dict[str, Any] = dict(
        id="f" * 64, names=["x"], image="i", image_id="", state="running", status="", created=None
    )
    return Container(**(base | kw))


def test_workload_identity() -> None:
    compose = {"com.docker.compose.project": "shop", "com.docker.compose.service": "db"}
    assert workload_identity(_container(labels=compose)) == "compose:shop/db/1"
    assert workload_identity(_container(names=["adhoc"])) == "name:adhoc"
    rs = _container(
        names=["prod/web-7d9f8b6c5d-x2x9k/app"],
        namespace="prod",
        pod="web-7d9f8b6c5d-x2x9k",
        labels={"pod-template-hash": "7d9f8b6c5d"},  # pragma: allowlist secret
    )
    assert workload_identity(rs) == "k8s:prod/web/app"
    sts = _container(
        names=["prod/db-0/pg"], namespace="prod", pod="db-0", labels={"statefulset.kubernetes.io/pod-name": "db-0"}
    )
    assert workload_identity(sts) == "k8s:prod/db-0/pg"
    # a recreated compose container (new id) keeps the fingerprint of its findings
    again = _container(id="e" * 64, labels=compose)
    a, b = workload_identity(_container(labels=compose)), workload_identity(again)
    assert fingerprint("local", a, "run-as-root") == fingerprint("local", b, "run-as-root")


# --- recorder on a real SQLite database -------------------------------------------------------------


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    db.upgrade(db.make_engine(url))
    return url


def recorder_for(backend: RecordedBackend, url: str) -> Recorder:
    service = service_for(backend, CACHE_TTL="0", INSPECT_CACHE_TTL="0")
    return Recorder(service, HistoryStore(db.make_engine(url)), retention_days=30)


def test_migrations_match_models_and_go_down(db_url: str) -> None:
    engine = db.make_engine(db_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert db.current_revision(engine) == db.head_revision()
    db.downgrade(engine)
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()


def test_recorder_records_and_resumes(backend: RecordedBackend, db_url: str) -> None:
    rec = recorder_for(backend, db_url)
    first = rec.cycle()
    assert {c.kind for c in first} == {"appeared", "finding_opened"}
    assert not any(c.while_away for c in first)
    assert rec.cycle() == []  # nothing changed
    victim = backend.listing[0]
    victim["State"] = "exited"
    raw = copy.deepcopy(backend.inspects["b87bb8fc694737c899320923c593c3fad0fd91dec971c2eae642ccbafa3928ea"])
    raw.update(
        Id=victim["Id"], Name=victim["Names"][0], State={"Status": "exited", "StartedAt": raw["State"]["StartedAt"]}
    )
    backend.inspects[victim["Id"]] = raw
    stopped = rec.cycle()
    assert [c.kind for c in stopped if c.container_id == victim["Id"]] == ["stopped", "health_changed"]
    # recorder away: a container is removed meanwhile; the new recorder records it as while_away
    gone = backend.listing.pop()
    later = recorder_for(backend, db_url).cycle()
    assert [(c.kind, c.container_id, c.while_away) for c in later if c.kind == "disappeared"] == [
        ("disappeared", gone["Id"], True)
    ]
    assert all(c.while_away for c in later)


def test_history_api(backend: RecordedBackend, db_url: str, tmp_path: Path) -> None:
    recorder_for(backend, db_url).cycle()
    client = make_app(backend, DATABASE_URL=db_url).test_client()
    everything = client.get("/api/changes?limit=1000").get_json()
    validate(everything, "ChangePage")
    assert everything["count"] > 3 and everything["next_cursor"] is None
    # paging: two at a time, newest first, the same rows as one page
    seen, cursor = [], None
    while True:
        page = client.get("/api/changes?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [c["id"] for c in everything["items"]]
    opened = client.get("/api/changes?kind=finding_opened&rule=run-as-root").get_json()["items"]
    assert opened and all(c["rule"] == "run-as-root" and c["severity"] == "HIGH" for c in opened)
    name = opened[0]["container_name"]
    hist = client.get(f"/api/containers/{name}/history").get_json()
    validate(hist, "ContainerHistory")
    assert {c["kind"] for c in hist["items"]} >= {"appeared", "finding_opened"}
    assert client.get(f"/api/changes?container={name}").get_json()["count"] == hist["count"]
    future = client.get("/api/changes?since=2999-01-01T00:00:00Z").get_json()
    assert future["count"] == 0
    trend = client.get("/api/posture/trend?bucket=raw").get_json()
    validate(trend, "PostureTrend")
    validate(client.get("/api/posture/trend?since=2026-01-01T00:00:00Z&bucket=day").get_json(), "PostureTrend")
    # The trend counts what /api/posture counts by default: the running containers' findings (legacy-db is
    # stopped: its findings are open in history but not in the totals).
    posture = client.get("/api/posture").get_json()
    assert trend["points"][-1]["totals"] == posture["totals"] and trend["points"][-1]["waived"] == posture["waived"]
    opened = client.get("/api/changes?kind=finding_opened&limit=1000").get_json()["items"]
    assert sum(posture["totals"].values()) < len(opened)
    for bad in ("kind=nope", "since=yesterday", "limit=0", "cursor=%%%", "order=up", "colour=red"):
        resp = client.get(f"/api/changes?{bad}")
        assert resp.status_code == 400, bad
        assert resp.mimetype == "application/problem+json"
    assert client.get("/api/containers/nothing-like-this/history").status_code == 404


def test_history_down_is_503_while_listing_works(backend: RecordedBackend, tmp_path: Path) -> None:
    client = make_app(backend, DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/history.db").test_client()
    for url in ("/api/changes", "/api/posture/trend", "/api/containers/legacy-db/history"):
        resp = client.get(url)
        assert resp.status_code == 503, url
        assert resp.get_json()["type"].endswith("/history-unavailable")
        assert resp.headers["Retry-After"]
    assert client.get("/api/containers").status_code == 200
    assert client.get("/api/posture").status_code == 200


def test_recorder_follows_waivers(backend: RecordedBackend, db_url: str) -> None:
    """Waived and waiver-expired come from the posture engine's waivers, not from the recorder."""
    rec = recorder_for(backend, db_url)
    service = rec.reader
    assert isinstance(service, InventoryService)
    rec.cycle()
    today = dt.date.today()
    target = Target(name="legacy-db")
    service.waivers = [Waiver("run-as-root", target, "migrating", "team-db", today + dt.timedelta(days=3))]
    waived = rec.cycle()
    assert [(c.kind, c.rule, c.container_name) for c in waived] == [("finding_waived", "run-as-root", "legacy-db")]
    # time passes: the waiver's last day is over (the engine no longer applies it)
    service.waivers = [Waiver("run-as-root", target, "migrating", "team-db", today - dt.timedelta(days=1))]
    assert rec.prev is not None
    rec.prev.findings = {
        fp: dataclasses.replace(f, waiver_expires=dt.datetime(2000, 1, 1)) if f.waived else f
        for fp, f in rec.prev.findings.items()
    }
    expired = rec.cycle()
    assert [(c.kind, c.rule, c.while_away) for c in expired] == [("finding_waiver_expired", "run-as-root", False)]


@pytest.mark.parametrize(
    "query",
    [
        "since=9999-12-31T23:59:59-23:59",
        "since=0001-01-01T00:00:00%2B23:59",
        "until=1969-12-31T23:00:00Z",
        "container=%00abc",
        "rule=Bad%20Rule",
        "cursor=YTox",
        "limit=1001",
    ],
)
def test_history_bad_parameters_are_400(backend: RecordedBackend, db_url: str, query: str) -> None:
    client = make_app(backend, DATABASE_URL=db_url).test_client()
    resp = client.get(f"/api/changes?{query}")
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert client.get("/api/posture/trend?since=9999-12-31T23:59:59-23:59").status_code == 400
    assert client.get("/api/containers/a%00b/history").status_code == 404


def _trend_last(client: Any) -> dict[str, Any]:
    point: dict[str, Any] = client.get("/api/posture/trend?bucket=raw").get_json()["points"][-1]
    return {"totals": point["totals"], "waived": point["waived"]}


def _posture(client: Any) -> dict[str, Any]:
    body = client.get("/api/posture").get_json()
    return {"totals": body["totals"], "waived": body["waived"]}


def test_trend_counts_running_containers_like_posture(backend: RecordedBackend, db_url: str) -> None:
    rec = recorder_for(backend, db_url)
    client = make_app(backend, DATABASE_URL=db_url).test_client()
    rec.cycle()
    assert _trend_last(client) == _posture(client)
    all_findings = client.get("/api/posture?all=true").get_json()["totals"]
    assert _trend_last(client)["totals"] != all_findings  # the stopped legacy-db's findings are not counted
    # A running container with findings stops: its findings leave the trend (and /api/posture) but stay open
    # in history; a restarted recorder (tallies rebuilt from the database) agrees and adds no sample.
    flawed = next(c["id"] for c in client.get("/api/posture").get_json()["containers"] if any(c["totals"].values()))
    insecure = next(i for i in backend.listing if i["Id"] == flawed)
    before = _trend_last(client)
    insecure["State"] = "exited"
    raw = copy.deepcopy(backend.inspects.get(flawed) or load_fixture("inspect-hardened.json"))
    raw.update(Id=flawed, Name=insecure["Names"][0])
    raw["State"] = {**raw["State"], "Status": "exited", "Running": False}
    backend.inspects[insecure["Id"]] = raw
    rec.cycle()
    assert _trend_last(client) == _posture(client) != before
    assert not [c for c in client.get("/api/changes?kind=finding_resolved").get_json()["items"]]
    samples = len(client.get("/api/posture/trend?bucket=raw").get_json()["points"])
    recorder_for(backend, db_url).cycle()
    assert len(client.get("/api/posture/trend?bucket=raw").get_json()["points"]) == samples
    insecure["State"] = "running"
    backend.inspects[insecure["Id"]] = {**raw, "State": {**raw["State"], "Status": "running", "Running": True}}
    rec.cycle()
    assert _trend_last(client) == _posture(client) == before
