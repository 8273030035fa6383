"""OpenAPI parts of the fleet (merged into inventory.openapi.spec): sources, the per-source status block,
``partial``, the ``source`` field of containers and findings, and the ``source`` query parameter."""

from __future__ import annotations

from typing import Any

STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
NAME = {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"}
STATUS = {
    "type": "string",
    "enum": ["ok", "stale", "unavailable", "starting"],
    "description": "ok: synced; stale: lost its engine less than LIVE_STALE_GRACE seconds ago, its last good state is"
    " served (containers counted, error and last_sync set); unavailable: lost for longer, or never synced;"
    " starting: first sync pending",
}
STALE = {
    "type": "boolean",
    "description": "true when some source's containers come from its last good state (status stale): the answer"
    " is complete as of that source's last sync but may miss changes since",
}
COUNT = {"type": ["integer", "null"], "minimum": 0}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "SourceBrief": {
        "type": "object",
        "description": "One source's health in an answer; containers is null while it is unavailable or starting",
        "required": ["name", "status", "containers", "error"],
        "properties": {"name": NAME, "status": STATUS, "containers": COUNT, "error": NSTR},
    },
    "Source": {
        "type": "object",
        "required": ["name", "type", "endpoint", "status", "containers", "last_sync", "error", "state_version"],
        "properties": {
            "name": NAME,
            "type": {"type": "string", "enum": ["docker", "podman", "kubernetes"]},
            "endpoint": {"type": "string", "description": "Where it points; never credentials"},
            "status": STATUS,
            "containers": COUNT,
            "last_sync": {"type": ["string", "null"], "format": "date-time"},
            "error": NSTR,
            "state_version": {"type": "integer", "minimum": 0},
        },
    },
    "Sources": {
        "type": "object",
        "required": ["sources", "count", "available", "partial", "stale"],
        "properties": {
            "sources": {"type": "array", "items": _ref("Source")},
            "count": {"type": "integer", "minimum": 1},
            "available": {"type": "integer", "minimum": 0, "description": "sources answering: ok or stale"},
            "partial": {"type": "boolean"},
            "stale": STALE,
        },
    },
}

FLEET_FIELDS = {
    "partial": {"type": "boolean", "description": "true when some source's containers are missing (see sources)"},
    "stale": STALE,
    "sources": {"type": "array", "items": _ref("SourceBrief")},
}


def source_param(names: str = "one of GET /api/sources") -> dict[str, Any]:
    return {
        "name": "source",
        "in": "query",
        "required": False,
        "schema": NAME,
        "description": f"Only this source ({names})",
    }


def extend(doc: dict[str, Any], auth_errors: dict[str, Any], edge: dict[str, Any]) -> None:
    """Add the fleet's schemas, fields, parameter and path to the spec (in place)."""
    schemas = doc["components"]["schemas"]
    schemas |= SCHEMAS
    # New dicts, never in-place edits: the base schemas are module constants shared by every spec() call.
    for name, fields in (
        ("Container", {"source": NAME}),
        ("Finding", {"source": NAME}),
        ("ContainerList", FLEET_FIELDS),
        ("Posture", FLEET_FIELDS),
    ):
        base = schemas[name]
        required = [*base["required"], *(f for f in fields if f not in base["required"])]
        schemas[name] = {**base, "properties": {**base["properties"], **fields}, "required": required}
    for path in ("/api/containers", "/api/posture"):
        operation = doc["paths"][path]["get"]
        operation["parameters"] = [*operation["parameters"], source_param()]
    doc["paths"]["/api/sources"] = {
        "get": {
            "operationId": "listSources",
            "security": [{}, {"bearer": []}],
            "description": "Every configured source (engine or cluster): health, last sync, container count, error",
            "responses": {
                **edge,
                "200": {"description": "Sources", "content": {"application/json": {"schema": _ref("Sources")}}},
                **auth_errors,
            },
        }
    }
