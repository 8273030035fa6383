"""The Docker event stream as the backend reads it: ``read_events`` over a real streaming HTTP answer from a local
server (the other live-state tests feed events through a stand-in that bypasses it).

- every container lifecycle action that changes what the inventory shows yields an event (``die``: a container
  that exits by itself), everything else is dropped unread;
- a stream the engine closes is an error (the live state must resync: events may have been missed), never a
  silent end; a quiet stream is ``StreamIdle`` (time to reconnect), not an error."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from inventory.backends.docker_events import StreamIdle, event_from_json, read_events
from inventory.model import BackendUnavailable, ContainerEvent
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CID = "e" * 64
ERRORS = (requests.RequestException, OSError)
# Docker's container actions (docs: "docker system events", container object) that change a container's listing
# or inspect answer: state, name, configuration, health.
CHANGES_STATE = ("create", "start", "restart", "die", "stop", "kill", "destroy", "rename", "pause", "unpause", "oom")
CHANGES_STATE += ("update",)
# Actions that change nothing the inventory shows (exec_* even carries a command line).
NO_CHANGE = ("attach", "detach", "resize", "top", "export", "commit", "copy", "archive-path", "extract-to-dir")
NO_CHANGE += ("exec_create: sh -c secret", "exec_start: sh -c secret", "exec_die", "mount", "unmount")


def line(action: str, cid: str = CID) -> str:
    return json.dumps({"Type": "container", "Action": action, "Actor": {"ID": cid}, "timeNano": 1})


@pytest.mark.parametrize("action", CHANGES_STATE)
def test_every_state_changing_action_is_an_event(action: str) -> None:
    assert event_from_json(line(action)) == ContainerEvent(CID, action, 1)


@pytest.mark.parametrize("action", NO_CHANGE)
def test_other_actions_are_dropped(action: str) -> None:
    assert event_from_json(line(action)) is None


class Engine:
    """A local HTTP server whose /events answer streams the given lines, then holds or closes the stream."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.hold = 0.0  # seconds to stay silent after the lines before closing
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def app(self, environ, start_response):  # type: ignore[no-untyped-def]
        Request(environ)

        def body() -> Iterator[bytes]:
            for text in self.lines:
                yield (text + "\n").encode()
            if self.hold:
                time.sleep(self.hold)

        return Response(body(), mimetype="application/json")(environ, start_response)

    def stream(self, idle: float) -> requests.Response:
        url = f"http://127.0.0.1:{self.server.server_port}/events"
        return requests.get(url, stream=True, timeout=(2, idle))


@pytest.fixture()
def engine() -> Iterator[Engine]:
    e = Engine()
    e.thread.start()
    yield e
    e.server.shutdown()


def test_a_stream_closed_by_the_engine_is_an_error_after_its_events(engine: Engine) -> None:
    engine.lines = [line("start"), line("exec_create: sh -c secret"), "", line("die"), line("destroy")]
    seen: list[ContainerEvent] = []
    with pytest.raises(BackendUnavailable, match="closed by the engine"):
        for event in read_events(engine.stream(idle=5), 5, ERRORS):
            seen.append(event)
    assert [e.action for e in seen] == ["start", "die", "destroy"]


def test_a_quiet_stream_is_idle_not_broken(engine: Engine) -> None:
    engine.lines, engine.hold = [line("start")], 3.0
    events = read_events(engine.stream(idle=0.5), 0.5, ERRORS)
    assert next(events).action == "start"
    with pytest.raises(StreamIdle):
        next(events)
