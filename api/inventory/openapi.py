"""The OpenAPI 3.1 document, generated: schemas from the response models (inventory.schemas and the history and
fleet models), query parameters from the query models that validate them (inventory.query, history.params).
This module only says which path answers with which model; tests check it against Flask's url_map."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .apimodel import QueryModel, component_schemas, query_parameters
from .fleet.openapi import Sources
from .history import openapi as history
from .history.params import ChangeParams, PageParams, TrendParams
from .query import LIMIT_MAX, ListParams, PostureParams
from .schemas import ContainerDetail, ContainerList, Health, Posture, Problem, Ready, RuleList, Version

SECURED: list[dict[str, list[str]]] = [{}, {"bearer": []}]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref(Problem)}}}


AUTH_ERRORS = {
    "401": _problem("Missing or invalid bearer token (only when auth is enabled)"),
    "503": _problem("Container backend (or the token file) unavailable"),
}
# Answers the Nginx edge gives before a request reaches the API (also problem+json).
EDGE = {
    "414": _problem("Request line too long (Nginx)"),
    "429": _problem("Rate limit exceeded (Nginx)"),
    "431": _problem("Request headers too large (Nginx)"),
    "502": _problem("API unreachable (Nginx)"),
    "504": _problem("API did not answer in time (Nginx)"),
}
HISTORY_DOWN = {"503": _problem("History database unavailable (listing and posture keep working)")}
BAD_QUERY = {"400": _problem("A query parameter is invalid; `parameter` names it")}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 1024},
    "description": "ETag of an earlier answer: 304 with no body while the inventory behind it is unchanged",
}
ETAG_HEADER = {
    "ETag": {
        "description": "Weak tag of the answer's content (same in every worker; the echoed client_ip is not in it)",
        "schema": {"type": "string", "pattern": '^W/"[0-9a-f]{32}"$'},
    }
}


def _ref_param(description: str) -> dict[str, Any]:
    return {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


def _tagged(model: type[BaseModel], description: str) -> dict[str, Any]:
    """A 200 that carries an ETag, and the 304 a matching If-None-Match gets."""
    return {
        "200": {**_json(model, description), "headers": ETAG_HEADER},
        "304": {"description": "Not modified: the inventory behind this ETag is unchanged", "headers": ETAG_HEADER},
    }


def _posture_ok() -> dict[str, Any]:
    tagged = _tagged(Posture, "Findings per container, totals and scores")
    content = tagged["200"]["content"]
    content["application/sarif+json"] = {
        "schema": {"type": "object", "required": ["version", "runs"], "properties": {"version": {"const": "2.1.0"}}}
    }
    content["application/xml"] = {"schema": {"type": "string", "description": "JUnit XML"}}
    return tagged


@dataclass(frozen=True)
class Operation:
    path: str
    operation_id: str
    ok: dict[str, Any]  # the success answers (200, and 304 where there is an ETag)
    query: type[QueryModel] | None = None  # the model that validates the query string
    errors: dict[str, Any] = field(default_factory=dict)
    path_params: tuple[dict[str, Any], ...] = ()
    etag: bool = False
    secured: bool = True
    description: str = ""

    def render(self, limit_max: int) -> dict[str, Any]:
        params = [*self.path_params]
        if self.query is not None:
            params += query_parameters(self.query, {"limit": {"maximum": limit_max}})
        if self.etag:
            params.append(IF_NONE_MATCH)
        op: dict[str, Any] = {"operationId": self.operation_id}
        if self.description:
            op["description"] = self.description
        if self.secured:
            op["security"] = SECURED
        if params:
            op["parameters"] = params
        errors = {**BAD_QUERY, **self.errors} if self.query is not None else self.errors
        op["responses"] = {**EDGE, **self.ok, **errors, **(AUTH_ERRORS if self.secured else {})}
        if "503" in self.errors:  # the operation's own 503 (history down) is the one documented
            op["responses"]["503"] = self.errors["503"]
        return op


REF_ERRORS = {"404": _problem("No container matches"), "409": _problem("The id prefix matches several containers")}
OPERATIONS = (
    Operation(
        "/api/containers",
        "listContainers",
        _tagged(ContainerList, "One page of containers, sorted by id"),
        ListParams,
        etag=True,
    ),
    Operation(
        "/api/containers/{ref}",
        "getContainer",
        {"200": _json(ContainerDetail, "Container with its security settings and findings")},
        errors=REF_ERRORS,
        path_params=(
            _ref_param(
                "Id, unique id prefix (3+ chars) or name, optionally as source:ref; on Kubernetes also ns/pod/container"
            ),
        ),
    ),
    Operation(
        "/api/posture",
        "getPosture",
        _posture_ok(),
        PostureParams,
        etag=True,
        description="Findings per container, totals, scores. JSON by default; SARIF 2.1.0 or JUnit XML "
        "with format=sarif|junit or Accept: application/sarif+json | application/xml.",
    ),
    Operation("/api/rules", "listRules", {"200": _json(RuleList, "The posture rule catalog")}),
    Operation(
        "/api/sources",
        "listSources",
        {"200": _json(Sources, "Sources")},
        description="Every configured source (engine or cluster): health, last sync, container count, error",
    ),
    Operation("/api/version", "getVersion", {"200": _json(Version, "Build information")}),
    Operation(
        "/api/changes",
        "listChanges",
        {"200": _json(history.ChangePage, "One page of changes")},
        ChangeParams,
        errors=HISTORY_DOWN,
    ),
    Operation(
        "/api/containers/{ref}/history",
        "getContainerHistory",
        {"200": _json(history.ContainerHistory, "Changes of the container's workload, newest first")},
        PageParams,
        errors={"404": _problem("Neither a container nor its history matches"), **REF_ERRORS, **HISTORY_DOWN},
        path_params=(_ref_param("Id, id prefix or name of a current or former container"),),
    ),
    Operation(
        "/api/posture/trend",
        "getPostureTrend",
        {"200": _json(history.PostureTrend, "Open findings by severity over time")},
        TrendParams,
        errors=HISTORY_DOWN,
    ),
    Operation("/healthz", "healthz", {"200": _json(Health, "Process alive")}, secured=False),
    Operation(
        "/readyz",
        "readyz",
        {"200": _json(Ready, "Some source answers: synced, or stale within LIVE_STALE_GRACE (then synced is false)")},
        errors={
            "503": _problem(
                "No source answers: first sync still running, or the engine / event stream lost for longer than"
                " LIVE_STALE_GRACE"
            )
        },
        secured=False,
    ),
)
RESPONSE_MODELS: list[type[BaseModel]] = [
    ContainerList,
    ContainerDetail,
    Posture,
    RuleList,
    Sources,
    Version,
    Health,
    Ready,
    history.ChangePage,
    history.ContainerHistory,
    history.PostureTrend,
    Problem,
]
_SCHEMAS = component_schemas(RESPONSE_MODELS)


def spec(version: str, limit_max: int = LIMIT_MAX) -> dict[str, Any]:
    """The document; ``limit_max`` is the configured PAGE_LIMIT_MAX (the ``limit`` parameters' maximum)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Container inventory API",
            "version": version,
            "description": "What containers are running here, and is each one safe?",
        },
        "components": {"schemas": _SCHEMAS, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {op.path: {"get": op.render(limit_max)} for op in OPERATIONS},
    }
