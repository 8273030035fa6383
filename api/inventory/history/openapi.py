"""OpenAPI parts of the history endpoints (merged into inventory.openapi.spec)."""

from __future__ import annotations

from typing import Any

from ..posture import SEVERITIES
from .query import BUCKETS
from .records import KINDS

STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time"}


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props)}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


SCHEMAS: dict[str, Any] = {
    "Change": _obj(
        {
            "id": {"type": "string", "description": "stable change id; also the webhook Idempotency-Key"},
            "at": TIME,
            "kind": {"type": "string", "enum": list(KINDS)},
            "source": STR,
            "container_id": STR,
            "container_name": STR,
            "workload": {"type": "string", "description": "compose:<project>/<service>/<n>, k8s:<ns>/<owner>/<c>"},
            "rule": NSTR,
            "severity": {"type": ["string", "null"], "enum": [*SEVERITIES, None]},
            "fingerprint": NSTR,
            "old": NSTR,
            "new": NSTR,
            "while_away": {"type": "boolean", "description": "found on recorder start: happened while it was away"},
        }
    ),
    "ChangePage": _obj(
        {
            "items": {"type": "array", "items": _ref("Change")},
            "count": {"type": "integer", "minimum": 0},
            "next_cursor": NSTR,
        }
    ),
    "ContainerHistory": _obj(
        {
            "container": STR,
            "workloads": {"type": "array", "items": STR},
            "items": {"type": "array", "items": _ref("Change")},
            "count": {"type": "integer", "minimum": 0},
            "next_cursor": NSTR,
        }
    ),
    "PostureTrend": _obj(
        {
            "since": TIME,
            "until": TIME,
            "bucket": {"type": "string", "enum": list(BUCKETS)},
            "points": {
                "type": "array",
                "items": _obj({"at": TIME, "totals": _ref("Totals"), "waived": {"type": "integer", "minimum": 0}}),
            },
        }
    ),
}

LIMIT = _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page size")
CURSOR = _q("cursor", {"type": "string"}, "next_cursor of the previous page")
SINCE = _q("since", TIME, "ISO 8601 time (UTC if no offset); inclusive")
UNTIL = _q("until", TIME, "ISO 8601 time (UTC if no offset); exclusive for changes")


def paths(auth_errors: dict[str, Any]) -> dict[str, Any]:
    down = {"503": _problem("History database unavailable (listing and posture keep working)")}
    return {
        "/api/changes": {
            "get": {
                "operationId": "listChanges",
                "security": [{}, {"bearer": []}],
                "parameters": [
                    SINCE,
                    UNTIL,
                    _q(
                        "container",
                        {"type": "string", "minLength": 1, "maxLength": 256},
                        "id, id prefix, name or workload",
                    ),
                    _q("rule", {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"}, "Rule id"),
                    _q("kind", {"type": "string", "enum": list(KINDS)}, "Change kind"),
                    _q("order", {"type": "string", "enum": ["desc", "asc"]}, "desc (newest first, default) or asc"),
                    LIMIT,
                    CURSOR,
                ],
                "responses": {
                    "200": _json("ChangePage", "One page of changes"),
                    "400": _problem("A query parameter is invalid; `parameter` names it"),
                    **auth_errors,
                    **down,
                },
            }
        },
        "/api/containers/{ref}/history": {
            "get": {
                "operationId": "getContainerHistory",
                "security": [{}, {"bearer": []}],
                "parameters": [
                    {
                        "name": "ref",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "Id, id prefix or name of a current or former container",
                    },
                    LIMIT,
                    CURSOR,
                ],
                "responses": {
                    "200": _json("ContainerHistory", "Changes of the container's workload, newest first"),
                    "400": _problem("A query parameter is invalid"),
                    "404": _problem("Neither a container nor its history matches"),
                    "409": _problem("The id prefix matches several containers"),
                    **auth_errors,
                    **down,
                },
            }
        },
        "/api/posture/trend": {
            "get": {
                "operationId": "getPostureTrend",
                "security": [{}, {"bearer": []}],
                "parameters": [
                    SINCE,
                    UNTIL,
                    _q("bucket", {"type": "string", "enum": list(BUCKETS)}, "hour (default), day or raw samples"),
                ],
                "responses": {
                    "200": _json("PostureTrend", "Open findings by severity over time"),
                    "400": _problem("A query parameter is invalid"),
                    **auth_errors,
                    **down,
                },
            }
        },
    }
