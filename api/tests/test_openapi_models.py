"""The generated OpenAPI document against the running app: same routes both ways, and every documented query
parameter is validated by the app (a bad value is a 400 naming it)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from conftest import RecordedBackend, make_app
from inventory.openapi import OPERATIONS, spec

DOC = spec("test")
# Served but not part of the API contract: the Prometheus exposition, the document itself, the web UI.
UNDOCUMENTED = re.compile(r"^/(metrics|openapi\.json|ui(/.*)?|static/.*)$")
# A string parameter without constraints in its schema: what the app still refuses.
REFUSED = {"cursor": "%%%"}


def _routes(app: Any) -> set[str]:
    """Flask's url_map as OpenAPI paths (``<path:ref>`` -> ``{ref}``), GET routes only."""
    paths = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules() if "GET" in rule.methods
    }
    return {p for p in paths if not UNDOCUMENTED.match(p)}


def test_every_route_is_documented_and_every_documented_path_is_a_route(backend: RecordedBackend) -> None:
    app = make_app(backend)
    assert _routes(app) == set(DOC["paths"])
    assert {"/api/containers", "/api/changes", "/healthz", "/readyz"} <= set(DOC["paths"])


def test_the_document_is_openapi_3_1_with_valid_schemas(client: Any) -> None:
    served = client.get("/openapi.json").get_json()
    assert served["openapi"] == "3.1.0" and served["paths"] == DOC["paths"]
    for schema in served["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', str(served).replace("'", '"')))
    assert refs and refs <= set(served["components"]["schemas"]), refs - set(served["components"]["schemas"])
    for op in OPERATIONS:
        operation = served["paths"][op.path]["get"]
        assert operation["operationId"] == op.operation_id
        for param in operation.get("parameters", []):
            jsonschema.Draft202012Validator.check_schema(param["schema"])


def test_the_limit_maximum_is_the_configured_one(backend: RecordedBackend) -> None:
    client = make_app(backend, PAGE_LIMIT_MAX="50", PAGE_LIMIT_DEFAULT="10").test_client()
    params = client.get("/openapi.json").get_json()["paths"]["/api/containers"]["get"]["parameters"]
    assert next(p for p in params if p["name"] == "limit")["schema"]["maximum"] == 50
    assert client.get("/api/containers?limit=50").status_code == 200
    bad = client.get("/api/containers?limit=51")
    assert bad.status_code == 400 and bad.get_json()["detail"] == "limit must be an integer from 1 to 50"


def _invalid(param: dict[str, Any]) -> str:
    """A value the parameter's schema refuses (or, for an unconstrained string, one the app must refuse)."""
    schema = param["schema"]
    schema = schema.get("items", schema)
    if "enum" in schema:
        return "no-such-value"
    if schema.get("type") == "integer":
        return "abc"
    if schema.get("format") == "date-time":
        return "yesterday"
    if schema.get("minLength") or schema.get("pattern"):
        return "" if schema.get("minLength") else "Not A Valid Value!"
    return REFUSED[param["name"]]


QUERY_PARAMS = [
    (path, param)
    for path, item in DOC["paths"].items()
    for param in item["get"].get("parameters", [])
    if param["in"] == "query"
]


@pytest.mark.parametrize(
    ("path", "param"), QUERY_PARAMS, ids=[f"{path}?{param['name']}" for path, param in QUERY_PARAMS]
)
def test_each_documented_query_parameter_is_validated(client: Any, path: str, param: dict[str, Any]) -> None:
    url = path.replace("{ref}", "web")
    name = param["name"]
    resp = client.get(f"{url}?{name}={quote(_invalid(param))}")
    assert resp.status_code == 400, (url, name, resp.get_data(as_text=True))
    body = resp.get_json()
    assert resp.mimetype == "application/problem+json" and body["parameter"] == name and body["detail"]
    assert body["type"].endswith("/invalid-parameter")
    jsonschema.validate(
        body,
        {"$ref": "#/components/schemas/Problem", "components": DOC["components"]},
        cls=jsonschema.Draft202012Validator,
    )
    if not param.get("explode"):
        twice = client.get(f"{url}?{name}=1&{name}=2")
        assert twice.status_code == 400 and twice.get_json()["detail"] == f"{name} may be given only once"


@pytest.mark.parametrize("path", sorted(p for p in DOC["paths"] if p.startswith("/api/")))
def test_an_undocumented_query_parameter_is_refused(client: Any, path: str) -> None:
    url = path.replace("{ref}", "web")
    resp = client.get(f"{url}?colour=red")
    if not any(p["in"] == "query" for p in DOC["paths"][path]["get"].get("parameters", [])):
        assert resp.status_code == client.get(url).status_code  # no query model: the query string is not read
        return
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "colour"
    assert "unknown query parameter 'colour'" in resp.get_json()["detail"]
