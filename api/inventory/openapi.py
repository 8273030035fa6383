"""OpenAPI 3.1 description of the API. Tests validate real responses against it."""

from __future__ import annotations

from typing import Any

from .fleet import openapi as fleet_openapi
from .history import openapi as history_openapi
from .posture import RULES, SEVERITIES
from .query import STATES

STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
NINT = {"type": ["integer", "null"]}
BOOL = {"type": "boolean"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or list(props)}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


SEVERITY = {"type": "string", "enum": list(SEVERITIES)}
TOTALS = _obj({sev: {"type": "integer", "minimum": 0} for sev in SEVERITIES})
SCORE = _obj({"value": {"type": "number", "minimum": 0, "maximum": 100}, "grade": {"enum": ["A", "B", "C", "D", "F"]}})
REFERENCES = {
    "type": "object",
    "description": "cis: CIS Docker Benchmark v1.8.0 section; cis_v1_6: the same recommendation in v1.6.0; "
    "pss: Pod Security Standards level and control; nsa: NSA/CISA Kubernetes Hardening Guide section",
}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": STR,
            "status": {"type": "integer"},
            "detail": STR,
            "instance": NSTR,
            "parameter": STR,
            "matches": {"type": "array", "items": STR},
        },
    },
    "Port": _obj({"private_port": {"type": "integer"}, "protocol": STR, "public_port": NINT, "ip": NSTR}),
    "Container": _obj(
        {
            "id": STR,
            "short_id": STR,
            "name": STR,
            "names": {"type": "array", "items": STR},
            "image": STR,
            "image_id": STR,
            "state": STR,
            "status": STR,
            "created": NSTR,
            "started_at": NSTR,
            "ports": {"type": "array", "items": _ref("Port")},
            "health": {"type": "string", "enum": ["healthy", "unhealthy", "starting", "none"]},
            "labels": {"type": "object", "additionalProperties": STR},
            "namespace": NSTR,
            "pod": NSTR,
            "node": NSTR,
            "restart_count": NINT,
        }
    ),
    "Mount": _obj({"type": STR, "source": STR, "destination": STR, "read_only": BOOL, "docker_socket": BOOL}),
    "Security": _obj(
        {
            "user": STR,
            "privileged": BOOL,
            "read_only_rootfs": BOOL,
            "cap_add": {"type": "array", "items": STR},
            "cap_drop": {"type": "array", "items": STR},
            "no_new_privileges": BOOL,
            "host_network": BOOL,
            "host_pid": BOOL,
            "host_ipc": BOOL,
            "mounts": {"type": "array", "items": _ref("Mount")},
            "memory_limit_bytes": NINT,
            "cpu_limit": {"type": ["number", "null"]},
            "healthcheck": BOOL,
            "image_pinned_by_digest": BOOL,
            "image_mutable_tag": BOOL,
        }
    ),
    "Finding": _obj(
        {
            "rule": {"type": "string", "enum": [r.id for r in RULES]},
            "severity": SEVERITY,
            "title": STR,
            "remediation": STR,
            "fix": STR,
            "references": REFERENCES,
            "waived": BOOL,
            "waiver": {"oneOf": [{"type": "null"}, _ref("Waiver")]},
            "expired_waiver": {"oneOf": [{"type": "null"}, _ref("Waiver")]},
            "workload": {
                "type": "string",
                "description": "compose:<project>/<service>/<n>, k8s:<namespace>/<owner>/<container> or name:<name>",
            },
            "fingerprint": {
                "type": "string",
                "description": "Stable id of the finding: hash of source, workload and rule (the one history records)",
            },
        }
    ),
    "Waiver": _obj(
        {
            "rule": STR,
            "target": {"type": "object"},
            "reason": STR,
            "owner": STR,
            "expires": {"type": "string", "format": "date"},
            "origin": {"type": "string", "enum": ["file", "label", "annotation"]},
        }
    ),
    "Score": SCORE,
    "Rule": _obj(
        {
            "id": STR,
            "severity": SEVERITY,
            "title": STR,
            "fix": STR,
            "remediation": STR,
            "rationale": STR,
            "references": REFERENCES,
            "backends": {"type": "array", "items": {"type": "string", "enum": ["docker", "kubernetes"]}},
            "limits": STR,
        }
    ),
    "Totals": TOTALS,
    "RuleList": _obj(
        {
            "rules": {"type": "array", "items": _ref("Rule")},
            "count": {"type": "integer", "minimum": 0},
            "weights": {"type": "object"},
        }
    ),
    "ContainerList": _obj(
        {
            "items": {"type": "array", "items": _ref("Container")},
            "count": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
            "next_cursor": NSTR,
            "backend": STR,
            "client_ip": NSTR,
        }
    ),
    "ContainerDetail": _obj(
        {
            "container": {"type": "object", "required": ["id", "name", "image", "state"]},
            "security": _ref("Security"),
            "findings": {"type": "array", "items": _ref("Finding")},
            "totals": _ref("Totals"),
            "score": _ref("Score"),
            "client_ip": NSTR,
        }
    ),
    "Posture": _obj(
        {
            "containers": {
                "type": "array",
                "items": _obj(
                    {
                        "id": STR,
                        "short_id": STR,
                        "name": STR,
                        "image": STR,
                        "state": STR,
                        "source": STR,
                        "namespace": NSTR,
                        "findings": {"type": "array", "items": _ref("Finding")},
                        "totals": _ref("Totals"),
                        "waived": {"type": "integer", "minimum": 0},
                        "score": _ref("Score"),
                    }
                ),
            },
            "source": STR,
            "backend": STR,
            "totals": _ref("Totals"),
            "waived": {"type": "integer", "minimum": 0},
            "score": _ref("Score"),
            "expired_waivers": {"type": "array", "items": _ref("Waiver")},
            "rules": {"type": "array", "items": _ref("Rule")},
            "client_ip": NSTR,
        }
    ),
    "Version": _obj({"version": STR, "git_sha": STR, "build_time": STR, "backend": STR, "python": STR}),
    "Health": _obj({"status": {"const": "ok"}}),
    "Ready": _obj(
        {
            "status": {"const": "ready"},
            "synced": {"type": "boolean", "description": "every source's live state is synced with its engine"},
            "stale": {
                "type": "boolean",
                "description": "some source lost its engine less than LIVE_STALE_GRACE seconds ago: its last good"
                " state is served (still ready; 503 once the grace period ends and no source answers)",
            },
            "backend": {"type": "object"},
        }
    ),
}

_AUTH_ERRORS = {
    "401": _problem("Missing or invalid bearer token (only when auth is enabled)"),
    "503": _problem("Container backend (or the token file) unavailable"),
}


# Answers the Nginx edge gives before a request reaches the API (also problem+json).
_EDGE = {
    "414": _problem("Request line too long (Nginx)"),
    "429": _problem("Rate limit exceeded (Nginx)"),
    "431": _problem("Request headers too large (Nginx)"),
    "502": _problem("API unreachable (Nginx)"),
    "504": _problem("API did not answer in time (Nginx)"),
}


def _q(name: str, schema: dict[str, Any], description: str, explode: bool = False) -> dict[str, Any]:
    param = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
    if explode:
        param["explode"] = True
    return param


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 1024},
    "description": "ETag of an earlier answer: 304 with no body while the inventory behind it is unchanged",
}
_ETAG_HEADER = {
    "ETag": {
        "description": "Weak tag of the answer's content (same in every worker; the echoed client_ip is not in it)",
        "schema": {"type": "string", "pattern": '^W/"[0-9a-f]{32}"$'},
    }
}


def _tagged(schema_name: str, description: str) -> dict[str, dict[str, Any]]:
    """A 200 that carries an ETag, and the 304 a matching If-None-Match gets."""
    ok = {**_json(schema_name, description), "headers": _ETAG_HEADER}
    return {
        "200": ok,
        "304": {"description": "Not modified: the inventory behind this ETag is unchanged", "headers": _ETAG_HEADER},
    }


ALL = _q("all", {"type": "string", "enum": ["true", "false"]}, "Include stopped containers")
FORMAT = _q(
    "format", {"type": "string", "enum": ["json", "sarif", "junit"]}, "Report format (default: by Accept, JSON)"
)


def _posture_responses() -> dict[str, dict[str, Any]]:
    tagged = _tagged("Posture", "Findings per container, totals and scores")
    tagged["200"]["content"]["application/sarif+json"] = {
        "schema": {"type": "object", "required": ["version", "runs"], "properties": {"version": {"const": "2.1.0"}}}
    }
    tagged["200"]["content"]["application/xml"] = {"schema": {"type": "string", "description": "JUnit XML"}}
    return tagged


def spec(version: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Container inventory API",
            "version": version,
            "description": "What containers are running here, and is each one safe?",
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/containers": {
                "get": {
                    "operationId": "listContainers",
                    "security": [{}, {"bearer": []}],
                    "parameters": [
                        ALL,
                        _q(
                            "name",
                            {"type": "string", "minLength": 1, "maxLength": 256},
                            "Substring of a container name",
                        ),
                        _q(
                            "image",
                            {"type": "string", "minLength": 1, "maxLength": 256},
                            "Substring of the image reference",
                        ),
                        _q(
                            "label",
                            {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 512}},
                            "key or key=value; repeatable (all must match)",
                            explode=True,
                        ),
                        _q("state", {"type": "string", "enum": list(STATES)}, "Only containers in this state"),
                        _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page size"),
                        _q("cursor", {"type": "string"}, "next_cursor of the previous page"),
                        IF_NONE_MATCH,
                    ],
                    "responses": {
                        **_tagged("ContainerList", "One page of containers, sorted by id"),
                        "400": _problem("A query parameter is invalid; `parameter` names it"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/containers/{ref}": {
                "get": {
                    "operationId": "getContainer",
                    "security": [{}, {"bearer": []}],
                    "parameters": [
                        {
                            "name": "ref",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": (
                                "Id, unique id prefix (3+ chars) or name, optionally as source:ref; "
                                "on Kubernetes also ns/pod/container"
                            ),
                        }
                    ],
                    "responses": {
                        "200": _json("ContainerDetail", "Container with its security settings and findings"),
                        "404": _problem("No container matches"),
                        "409": _problem("The id prefix matches several containers"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/posture": {
                "get": {
                    "operationId": "getPosture",
                    "description": "Findings per container, totals, scores. JSON by default; SARIF 2.1.0 or JUnit XML "
                    "with format=sarif|junit or Accept: application/sarif+json | application/xml.",
                    "security": [{}, {"bearer": []}],
                    "parameters": [ALL, FORMAT, IF_NONE_MATCH],
                    "responses": {
                        **_posture_responses(),
                        "400": _problem("A query parameter is invalid"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/rules": {
                "get": {
                    "operationId": "listRules",
                    "security": [{}, {"bearer": []}],
                    "responses": {"200": _json("RuleList", "The posture rule catalog"), **_AUTH_ERRORS},
                }
            },
            "/api/version": {
                "get": {
                    "operationId": "getVersion",
                    "security": [{}, {"bearer": []}],
                    "responses": {"200": _json("Version", "Build information"), **_AUTH_ERRORS},
                }
            },
            "/healthz": {"get": {"operationId": "healthz", "responses": {"200": _json("Health", "Process alive")}}},
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "responses": {
                        "200": _json(
                            "Ready",
                            "Some source answers: synced, or stale within LIVE_STALE_GRACE (then synced is false)",
                        ),
                        "503": _problem(
                            "No source answers: first sync still running, or the engine / event stream lost for"
                            " longer than LIVE_STALE_GRACE"
                        ),
                    },
                }
            },
        },
    }
    doc["components"]["schemas"] |= history_openapi.SCHEMAS
    doc["paths"] |= history_openapi.paths(_AUTH_ERRORS)
    for path in doc["paths"].values():
        for operation in path.values():
            operation["responses"] = {**_EDGE, **operation["responses"]}
    fleet_openapi.extend(doc, _AUTH_ERRORS, _EDGE)
    return doc
