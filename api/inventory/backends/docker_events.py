"""Docker engine event stream: which events count, and how a streaming answer is read."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from ..model import BackendUnavailable, ContainerEvent


class StreamIdle(Exception):
    """The event stream was quiet for the whole idle timeout (not an error: time to resync)."""


LIFECYCLE = frozenset(
    {"create", "start", "restart", "die", "stop", "kill", "destroy", "rename", "pause", "unpause", "oom", "update"}
)


def event_from_json(line: bytes | str) -> ContainerEvent | None:
    """A container lifecycle event, or None for anything else (exec_*, attach, ...).

    Only the id and the action are kept; unknown actions are dropped unread (``exec_create: <cmd>``
    carries a command line when the API talks to the engine without the socket proxy).
    """
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("Type") != "container":
        return None
    action = str(doc.get("Action", ""))
    if action.startswith("health_status"):
        action = "health_status"
    if action not in LIFECYCLE and action != "health_status":
        return None
    actor = doc.get("Actor") or {}
    cid = actor.get("ID") or doc.get("id")
    if not isinstance(cid, str) or not cid:
        return None
    return ContainerEvent(id=cid, action=action, time_nano=int(doc.get("timeNano") or 0))


def read_events(resp: Any, idle_timeout: float, errors: tuple[type[BaseException], ...]) -> Iterator[ContainerEvent]:
    """Yield lifecycle events from a streaming response; ``StreamIdle`` after ``idle_timeout`` of silence."""
    last = time.monotonic()
    try:
        for line in resp.iter_lines():
            last = time.monotonic()
            if not line:
                continue
            event = event_from_json(line)
            if event is not None:
                yield event
    except errors as exc:
        if time.monotonic() - last >= idle_timeout * 0.9:
            raise StreamIdle() from None
        raise BackendUnavailable(f"docker event stream broken: {exc.__class__.__name__}") from exc
    finally:
        resp.close()
    raise BackendUnavailable("docker event stream closed by the engine")
