"""The compose stack with its recorder on the real engine: lifecycle changes appear in /api/changes
(through Nginx), and what happens while the recorder is stopped is recorded as `while_away` on restart."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest

from tests.history.conftest import run_container
from tests.support.stack import Stack

DEADLINE = 10.0  # generous for a busy CI machine; the 2 s target is reported by the suite, not asserted
RESTART_DEADLINE = 60.0


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with Stack() as s:
        yield s


def changes(stack: Stack, container: str) -> list[dict[str, Any]]:
    resp = stack.get("/api/changes", params={"container": container, "limit": 1000, "order": "asc"})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def wait_for(
    stack: Stack,
    container: str,
    done: Callable[[list[dict[str, Any]]], bool],
    since: float,
    deadline: float = DEADLINE,
) -> tuple[list[dict[str, Any]], float]:
    while True:
        rows = changes(stack, container)
        if done(rows):
            return rows, time.monotonic() - since
        if time.monotonic() - since > deadline:
            pytest.fail(f"expected change rows for {container} not recorded within {deadline}s: {rows}")
        time.sleep(0.1)


def api_sees(stack: Stack, name: str, running: bool = False) -> bool:
    """The API lists a container of this name (running, if asked)."""
    resp = stack.get("/api/containers", params={"all": "true", "limit": 1000})
    assert resp.status_code == 200, resp.text
    return any(name in c["names"] and (c["state"] == "running" or not running) for c in resp.json()["items"])


def kinds(rows: list[dict[str, Any]], *wanted: str) -> list[str]:
    return [r["kind"] for r in rows if r["kind"] in wanted]


def test_lifecycle_changes(stack: Stack, engine_client: docker.DockerClient, scratch: list[Any]) -> None:
    name = f"invtest-life-{uuid.uuid4().hex[:8]}"
    latencies: dict[str, float] = {}
    lifecycle = ("appeared", "started", "stopped", "restarted", "renamed", "disappeared")

    t = time.monotonic()
    c = run_container(engine_client, scratch, name)
    rows, latencies["start"] = wait_for(stack, name, lambda r: "appeared" in kinds(r, "appeared"), t)
    assert {r["rule"] for r in rows if r["kind"] == "finding_opened"} >= {"run-as-root", "no-memory-limit"}

    t = time.monotonic()
    c.kill()
    _, latencies["kill"] = wait_for(stack, name, lambda r: kinds(r, "stopped") == ["stopped"], t)

    t = time.monotonic()
    c.start()
    _, latencies["start again"] = wait_for(stack, name, lambda r: kinds(r, "restarted") == ["restarted"], t)

    t = time.monotonic()
    c.stop(timeout=0)
    _, latencies["stop"] = wait_for(stack, name, lambda r: kinds(r, "stopped") == ["stopped", "stopped"], t)

    renamed = name + "-renamed"
    t = time.monotonic()
    c.rename(renamed)
    rows, latencies["rename"] = wait_for(stack, c.id, lambda r: "renamed" in kinds(r, "renamed"), t)
    assert [(r["old"], r["new"]) for r in rows if r["kind"] == "renamed"] == [(name, renamed)]

    # recreate under the same name: the workload identity (and so the finding fingerprints) stay the same
    t = time.monotonic()
    c.remove(force=True)
    again = run_container(engine_client, scratch, renamed)
    rows, latencies["recreate"] = wait_for(
        stack, f"name:{renamed}", lambda r: {"disappeared", "appeared"} <= set(kinds(r, *lifecycle)), t
    )
    assert {r["container_id"] for r in rows if r["kind"] == "appeared"} == {again.id}
    history = stack.get(f"/api/containers/{renamed}/history", params={"limit": 1000}).json()
    ids = {r["container_id"] for r in history["items"]}
    assert {c.id, again.id} <= ids, "the recreated container's history includes its predecessor"
    fingerprints = {r["fingerprint"] for r in history["items"] if r["rule"] == "run-as-root"}
    assert len(fingerprints) == 1

    print("\nchange -> row latency (s):", {k: round(v, 2) for k, v in latencies.items()})


def test_gap_is_recorded_while_away(stack: Stack, engine_client: docker.DockerClient, scratch: list[Any]) -> None:
    tag = uuid.uuid4().hex[:8]
    stays, goes = (run_container(engine_client, scratch, f"invtest-gap-{n}-{tag}") for n in ("stays", "goes"))
    t = time.monotonic()
    for c in (stays, goes):
        wait_for(stack, c.name, lambda r: "appeared" in kinds(r, "appeared"), t)

    recorder = stack.container("recorder")
    recorder.stop(timeout=10)
    stays.kill()
    goes.remove(force=True)
    new = run_container(engine_client, scratch, f"invtest-gap-new-{tag}")
    # The engine's events for these containers have been processed by a live state like the recorder's (the API's):
    # a running recorder would have recorded them by now. It is stopped: nothing may be there.
    t = time.monotonic()
    while not api_sees(stack, new.name, True) or api_sees(stack, goes.name) or api_sees(stack, stays.name, True):
        assert time.monotonic() - t < DEADLINE, "the API's live state never saw the changes made meanwhile"
        time.sleep(0.1)
    recorder.reload()
    assert recorder.status == "exited"  # really stopped, not merely slow
    assert changes(stack, new.name) == [], "nothing is recorded while the recorder is stopped"

    recorder.start()
    t = time.monotonic()
    # a restarted recorder first migrates and syncs its live state (every container on the engine)
    rows, _ = wait_for(stack, new.name, lambda r: "appeared" in kinds(r, "appeared"), t, deadline=RESTART_DEADLINE)
    assert all(r["while_away"] for r in rows)
    stopped, _ = wait_for(stack, stays.name, lambda r: "stopped" in kinds(r, "stopped"), t)
    assert [r["while_away"] for r in stopped if r["kind"] == "stopped"] == [True]
    gone, _ = wait_for(stack, goes.name, lambda r: "disappeared" in kinds(r, "disappeared"), t)
    assert [r["while_away"] for r in gone if r["kind"] in ("appeared", "disappeared")] == [False, True]
    # the API kept serving the listing while the recorder was away, and history again now
    assert stack.get("/api/containers").status_code == 200
