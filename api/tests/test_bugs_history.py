"""History retention and the time window of /api/changes, on a real SQLite database.

Retention keeps what is newer than the cut-off and deletes only what is older (plus every posture sample but the
newest old one, which is the trend's starting point); the recorder purges at most once per PURGE_EVERY;
/api/changes?until= is an exclusive upper bound."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import RecordedBackend, make_app
from inventory.history import db
from inventory.history.models import Change, PostureSample
from inventory.history.records import iso, utcnow
from inventory.recorder import loop
from inventory.recorder.diff import diff
from inventory.recorder.loop import Recorder
from inventory.recorder.observe import Observation, Tally
from inventory.recorder.store import HistoryStore
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_history import finding, obs, observation

DAY = dt.timedelta(days=1)
NOW = utcnow().replace(microsecond=0)
# Four cycles: two older than a 30-day retention, two inside it.
TIMES = (NOW - 40 * DAY, NOW - 35 * DAY, NOW - 2 * DAY, NOW - DAY)


def _cycle(i: int) -> Observation:
    """Cycle i: container c{i} only (the previous one disappears); odd cycles carry a finding, so the posture
    totals change every cycle and every cycle writes a posture sample."""
    cid = f"{i:064x}"
    container = obs(cid=cid, name=f"c{i}", workload=f"name:c{i}")
    found = (finding(container_id=cid, container_name=f"c{i}", workload=f"name:c{i}"),) if i % 2 else ()
    cur = observation(container, findings=found)
    cur.tallies[("local", cid)] = Tally(open=(0, len(found), 0, 0), waived=0)
    return cur


def record(store: HistoryStore, times: tuple[dt.datetime, ...]) -> None:
    prev = Observation()
    for i, at in enumerate(times):
        cur = _cycle(i)
        assert store.commit(prev, cur, diff(prev, cur, at), at, False), f"cycle {i} stored nothing"
        prev = cur


def change_times(store: HistoryStore) -> list[dt.datetime]:
    with Session(store.engine) as s:
        return sorted(s.scalars(select(Change.at)))


def sample_times(store: HistoryStore) -> list[dt.datetime]:
    with Session(store.engine) as s:
        return sorted(s.scalars(select(PostureSample.at)))


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    db.upgrade(db.make_engine(url))
    return url


@pytest.fixture()
def store(db_url: str) -> HistoryStore:
    s = HistoryStore(db.make_engine(db_url))
    record(s, TIMES)
    return s


def test_purge_deletes_only_what_is_older_than_the_cut_off(store: HistoryStore) -> None:
    cut = NOW - 30 * DAY
    before = change_times(store)
    assert {t for t in before} == set(TIMES) and sample_times(store) == list(TIMES)
    removed = store.purge(cut)
    after = change_times(store)
    assert removed == sum(1 for t in before if t < cut) > 0
    assert after == [t for t in before if t >= cut]  # every newer change kept, every older one gone
    # samples: the newest old one (the trend's starting value) and every newer one
    assert sample_times(store) == [TIMES[1], TIMES[2], TIMES[3]]


def test_purge_with_nothing_old_keeps_everything(store: HistoryStore) -> None:
    before, samples = change_times(store), sample_times(store)
    assert store.purge(NOW - 100 * DAY) == 0
    assert change_times(store) == before and sample_times(store) == samples


def test_recorder_purges_with_its_retention_at_most_once_per_period(
    store: HistoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(loop.time, "monotonic", lambda: clock[0])
    rec = Recorder(reader=None, store=store, retention_days=30)  # type: ignore[arg-type]  # purge reads no engine
    rec.purge_if_due()  # the first call purges
    assert change_times(store) and min(change_times(store)) >= NOW - 30 * DAY
    assert {TIMES[2], TIMES[3]} <= set(change_times(store))
    # a change older than the retention arrives (e.g. a clock jump); within PURGE_EVERY it stays
    record(store, (NOW - 50 * DAY,))
    clock[0] += loop.PURGE_EVERY - 1
    rec.purge_if_due()
    assert NOW - 50 * DAY in change_times(store)
    clock[0] += 2  # PURGE_EVERY has passed since the last purge
    rec.purge_if_due()
    assert NOW - 50 * DAY not in change_times(store)
    assert {TIMES[2], TIMES[3]} <= set(change_times(store))


def test_changes_until_is_an_exclusive_upper_bound(backend: RecordedBackend, db_url: str, store: HistoryStore) -> None:
    client = make_app(backend, DATABASE_URL=db_url).test_client()

    def ats(query: str) -> list[str]:
        body = client.get(f"/api/changes?limit=1000&{query}").get_json()
        return sorted({c["at"] for c in body["items"]})

    assert ats("") == sorted({iso(t) for t in TIMES})
    assert ats(f"until={iso(TIMES[2])}") == [iso(TIMES[0]), iso(TIMES[1])]  # exclusive: TIMES[2] is out
    assert ats(f"since={iso(TIMES[1])}&until={iso(TIMES[3])}") == [iso(TIMES[1]), iso(TIMES[2])]
