"""Which requests the socket proxy forwards, and what it removes from the engine's answers.

A prefix rule such as "GET /containers/*" is not enough: it would still expose /containers/{id}/archive, /export
and /logs (file contents and output). Inspect answers carry every container's environment (secrets) and command
line, so those fields are removed before anything reaches the API. Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from events_filter import events_query_ok
from process_rules import TOP_QUERY, reduce_exec, reduce_top

_VERSION = r"(?:/v\d+\.\d+)?"
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
ROUTES: list[tuple[re.Pattern[str], str, frozenset[str]]] = [
    (re.compile(rf"^{_VERSION}/_ping$"), "ping", frozenset()),
    (re.compile(rf"^{_VERSION}/version$"), "version", frozenset()),
    (re.compile(rf"^{_VERSION}/containers/json$"), "list", frozenset({"all", "limit", "filters", "size", "trunc_cmd"})),
    (re.compile(rf"^{_VERSION}/containers/{_NAME}/json$"), "inspect", frozenset()),
    # CIS 5.7: which executables run (process_rules.py: names only; ps_args would reach `ps` on the host: refused)
    (re.compile(rf"^{_VERSION}/containers/{_NAME}/top$"), "top", frozenset()),
    # CIS 5.23/5.24: how an exec ran (privileged, user), never its command
    (re.compile(rf"^{_VERSION}/exec/[0-9a-f]{{64}}/json$"), "exec", frozenset()),
    (re.compile(rf"^{_VERSION}/events$"), "events", frozenset({"since", "until", "filters"})),
]
ALLOWED_METHODS = ("GET", "HEAD")

# Inspect fields that can carry secrets or command lines; removed, never masked in place.
REDACT_CONFIG = ("Env", "Cmd", "Entrypoint", "OnBuild")
REDACT_TOP = ("Args", "Path")


def match_route(method: str, target: str) -> tuple[str | None, str]:
    """Return (route name, reason). Route None means the request is refused."""
    if method not in ALLOWED_METHODS:
        return None, f"method {method} is not allowed"
    parts = urlsplit(target)
    path = parts.path
    if "%" in path or "//" in path or "/../" in path or path.endswith("/.."):
        return None, "encoded or non-canonical path"
    for pattern, name, params in ROUTES:
        if pattern.match(path):
            query = parse_qsl(parts.query, keep_blank_values=True)
            extra = {k for k, _ in query} - params
            if extra:
                return None, f"query parameter {sorted(extra)[0]!r} is not allowed"
            # size=true makes the engine walk every container's filesystem: refuse, it is a DoS lever.
            if any(k == "size" and v.lower() not in ("0", "false") for k, v in query):
                return None, "size=true is not allowed"
            if name == "events":
                return events_query_ok(method, query)
            return name, "ok"
    return None, "endpoint is not allowed"


def redact_inspect(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop environment, command line and other secret-bearing fields from an inspect answer."""
    for key in REDACT_TOP:
        doc.pop(key, None)
    config = doc.get("Config")
    if isinstance(config, dict):
        for key in REDACT_CONFIG:
            config.pop(key, None)
        health = config.get("Healthcheck")
        if isinstance(health, dict) and health.get("Test") not in (None, [], ["NONE"]):
            # Keep "a healthcheck exists" (and its kind), drop the command which may embed secrets.
            health["Test"] = [health["Test"][0], "[redacted]"] if health["Test"] else []
    host = doc.get("HostConfig")
    if isinstance(host, dict):
        log_config = host.get("LogConfig")
        if isinstance(log_config, dict):
            log_config["Config"] = {}  # logging drivers take credentials (splunk-token, ...)
    graph = doc.get("GraphDriver")
    if isinstance(graph, dict):
        graph["Data"] = None
    return doc


def redact_list(items: list[Any]) -> list[Any]:
    for item in items:
        if isinstance(item, dict):
            item.pop("Command", None)  # the full command line
    return items


def upstream_target(route: str, target: str) -> str:
    """What the proxy asks the engine: the client's target, except top, which asks `ps` for pid and comm only."""
    return f"{urlsplit(target).path}?{TOP_QUERY}" if route == "top" else target


_REDUCERS: dict[str, tuple[type, Callable[[Any], Any]]] = {
    "inspect": (dict, redact_inspect),
    "list": (list, redact_list),
    "top": (dict, reduce_top),
    "exec": (dict, reduce_exec),
}


def filter_body(route: str, body: bytes) -> bytes:
    if route not in _REDUCERS:
        return body
    doc = json.loads(body)
    kind, reduce = _REDUCERS[route]
    if isinstance(doc, kind):
        doc = reduce(doc)
    elif route in ("top", "exec"):
        raise ValueError(f"{route}: unexpected answer")  # never pass through what could not be reduced
    return json.dumps(doc, separators=(",", ":")).encode()
