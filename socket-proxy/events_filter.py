"""Which event-stream requests the socket proxy accepts, and what of each event it passes on.

Only container lifecycle and exec events pass, rebuilt from an allowlist: exec events carry the command
line in their action (``exec_create: sh -c ...``), so they pass as the bare action (``exec_create``) with the
container, the exec id and, from the exec's inspect (``exec_facts``), privileged and user only; container events
carry every label of the container as attributes, which never pass. Standard library only (copied next to
socket_proxy.py; used by request_rules.py and event_stream.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

# Container lifecycle actions that pass the event stream; everything else (exec_*, attach, commit,
# copy, export, top, resize, ...) is dropped. Attributes are rebuilt from this allowlist only.
EVENT_ACTIONS = frozenset(
    {"create", "start", "restart", "die", "stop", "kill", "destroy", "rename", "pause", "unpause", "oom", "update"}
)
HEALTH_ACTIONS = frozenset({"health_status: healthy", "health_status: unhealthy", "health_status: starting"})
EVENT_ATTRIBUTES = ("name", "image", "exitCode", "signal", "oldName")
# CIS 5.23/5.24: exec events, their action cut at the command ("exec_start: sh -c ..." -> "exec_start").
EXEC_ACTIONS = frozenset({"exec_create", "exec_start", "exec_die"})
EXEC_ATTRIBUTES = ("name", "image", "execID", "exitCode")
_EXEC_ID = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"^\d{1,20}(\.\d{1,9})?$")
_FILTER_KEYS = frozenset({"type", "event", "container"})


def _filter_values(value: Any) -> list[str] | None:
    """Docker accepts {"k": ["v"]} and the older {"k": {"v": true}}."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, dict) and all(isinstance(k, str) and v is True for k, v in value.items()):
        return list(value)
    return None


def events_query_ok(method: str, query: list[tuple[str, str]]) -> tuple[str | None, str]:
    """The event stream only with filters that limit it to container lifecycle events."""
    if method != "GET":
        return None, "events: only GET"
    params = dict(query)
    if len(params) != len(query):
        return None, "events: repeated query parameter"
    for key in ("since", "until"):
        if key in params and not _TIMESTAMP.match(params[key]):
            return None, f"events: {key} must be a unix timestamp"
    try:
        filters = json.loads(params.get("filters", ""))
    except ValueError:
        return None, "events: filters with type=container are required"
    if not isinstance(filters, dict) or set(filters) - _FILTER_KEYS:
        return None, "events: only the type, event and container filters are allowed"
    if _filter_values(filters.get("type")) != ["container"]:
        return None, "events: filters with type=container are required"
    for key in ("event", "container"):
        values = _filter_values(filters.get(key, []))
        if values is None:
            return None, f"events: malformed {key} filter"
        if key == "event" and set(values) - EVENT_ACTIONS - EXEC_ACTIONS - {"health_status"}:
            return None, "events: only container lifecycle events are allowed"
    return "events", "ok"


ExecFacts = Callable[[str], dict[str, str]]


def _exec_action(action: Any) -> str | None:
    """ "exec_create: sh -c ..." -> "exec_create"; None for anything that is not an exec lifecycle action."""
    name = action.split(":", 1)[0] if isinstance(action, str) else None
    return name if name in EXEC_ACTIONS else None


def filter_event(line: bytes, exec_facts: ExecFacts | None = None) -> bytes | None:
    """One engine event line -> the safe event line to pass on, or None to drop it.

    ``exec_facts(exec_id)`` gives an exec_create/exec_start event its privileged and user (the proxy's own exec
    inspect, reduced); without it, or when it fails ({}), the event passes without them."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("Type") != "container":
        return None
    action = doc.get("Action")
    exec_action = _exec_action(action)
    if action not in EVENT_ACTIONS and action not in HEALTH_ACTIONS and exec_action is None:
        return None
    actor = doc.get("Actor")
    actor = actor if isinstance(actor, dict) else {}
    attrs = actor.get("Attributes")
    attrs = attrs if isinstance(attrs, dict) else {}
    cid = actor.get("ID")
    if not isinstance(cid, str) or not re.fullmatch(r"[0-9a-f]{12,64}", cid):
        return None
    kept = {k: str(attrs[k]) for k in (EXEC_ATTRIBUTES if exec_action else EVENT_ATTRIBUTES) if k in attrs}
    if exec_action:
        if not _EXEC_ID.fullmatch(kept.get("execID", "")):
            return None
        if exec_action != "exec_die" and exec_facts is not None:
            facts = exec_facts(kept["execID"])
            kept.update({k: str(facts[k]) for k in ("privileged", "user") if k in facts})
    safe = {
        "Type": "container",
        "Action": exec_action or action,
        "Actor": {"ID": cid, "Attributes": kept},
        "scope": "local",
        "time": int(doc.get("time") or 0),
        "timeNano": int(doc.get("timeNano") or 0),
    }
    return json.dumps(safe, separators=(",", ":")).encode() + b"\n"
