"""HTTP routes: the API blueprint (/api/*) and the health blueprint (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Callable
from datetime import date
from functools import partial

from flask import Blueprint, Response, current_app, jsonify, request

from . import metrics
from .apimodel import answer, encode, parse_query
from .auth import TokenFile
from .conditional import conditional
from .config import Settings
from .fleet.openapi import Sources
from .model import BackendUnavailable
from .openapi import spec
from .posture import catalog
from .posture.formats import FORMATS
from .posture.formats import encode as render_report
from .problems import PROBLEM_JSON, Problem
from .query import ListQuery, PostureParams
from .schemas import ContainerDetail, ContainerList, Health, Posture, Ready, RuleList, Version
from .service import InventoryService

api = Blueprint("api", __name__, url_prefix="/api")
CLIENT_IP = {"client_ip"}  # added per request to a shared rendering (_with_client_ip)
health = Blueprint("health", __name__)


def _service() -> InventoryService:
    found: InventoryService = current_app.extensions["inventory"]
    return found


def _settings() -> Settings:
    found: Settings = current_app.config["INVENTORY_SETTINGS"]
    return found


def _cacheable(resp: Response) -> Response:
    """Let Nginx micro-cache anonymous answers; never cache when auth is on."""
    token: TokenFile = current_app.extensions["token"]
    resp.headers["Cache-Control"] = "private, no-store" if token.enabled else "public, max-age=1"
    resp.headers["Vary"] = "Authorization"
    return resp


@api.before_request
def _authenticate() -> None:
    current_app.extensions["token"].check(request.headers.get("Authorization"))


@api.get("/containers")
def list_containers() -> Response:
    settings = _settings()
    svc = _service()
    q = ListQuery.parse(request.args, settings.page_limit_default, settings.page_limit_max, svc.source_names())
    view = svc.view(q.source)

    def build() -> bytes:
        page = svc.page(q, view)
        listing = {"items": page.items, "count": len(page.items), "total": page.total, "backend": svc.backend.name}
        fleet = {"next_cursor": page.next_cursor, "partial": page.partial, "stale": page.stale, "sources": page.sources}
        return encode(ContainerList, listing | fleet, exclude=CLIENT_IP)

    head, etag = current_app.extensions["pages"].body(view.version, q.key(), build)

    # The encoded page is shared; only the caller's address is added per request.
    return conditional(etag, lambda: _with_client_ip(head), _cacheable)


@api.get("/containers/<path:ref>")
def get_container(ref: str) -> Response:
    if not ref or len(ref) > 256:
        raise Problem(404, "container-not-found", "Container not found", "no container matches that reference")
    svc = _service()
    container = svc.resolve(ref)
    detail = svc.detail(container)
    report = svc.report(container, detail)
    # The list entry carries ports and the list's health view; inspect adds started_at etc.
    inspected = {f.name: getattr(detail.container, f.name) for f in dataclasses.fields(detail.container)}
    merged = dataclasses.replace(container, **{k: v for k, v in inspected.items() if v not in (None, [], {})})
    body = {"container": merged, "security": detail.security, "findings": report.findings, "totals": report.totals}
    return answer(ContainerDetail, body | {"score": report.score, "client_ip": request.remote_addr})


def _posture_format() -> str:
    """Without format=: the Accept header (SARIF / XML); else JSON."""
    best = request.accept_mimetypes.best_match(
        ["application/json", "application/sarif+json", "application/xml", "text/xml"], default="application/json"
    )
    return {"application/sarif+json": "sarif", "application/xml": "junit", "text/xml": "junit"}.get(best, "json")


@api.get("/posture")
def get_posture() -> Response:
    svc = _service()
    params = parse_query(PostureParams, request.args, {"sources": svc.source_names()})
    include_stopped, source = params.all, params.source
    fmt = params.format or _posture_format()
    version = svc.view(source).version
    query = ("posture", fmt, include_stopped, source, date.today())
    pages = current_app.extensions["pages"]
    # Rendered once per state version (the service caches the report itself); only client_ip is per request.
    build: Callable[[], Response]
    if fmt == "json":
        head, etag = pages.body(
            version, query, lambda: encode(Posture, svc.posture(include_stopped, source), exclude=CLIENT_IP)
        )
        build = partial(_with_client_ip, head)
    else:
        doc, etag = pages.raw(
            version, query, lambda: render_report(svc.posture(include_stopped, source), fmt, _settings().version)
        )
        build = partial(Response, doc, mimetype=FORMATS[fmt])

    def headers(resp: Response) -> Response:
        resp = _cacheable(resp)
        resp.headers["Vary"] = "Authorization, Accept"
        return resp

    return conditional(etag, build, headers)


def _with_client_ip(head: bytes) -> Response:
    """A rendered JSON object (without its closing brace) plus the caller's address."""
    body = b"".join((head, b',"client_ip":', current_app.json.dumps(request.remote_addr).encode(), b"}\n"))
    return current_app.response_class(body, mimetype="application/json")


@api.get("/rules")
def list_rules() -> Response:
    """The rule catalog: ids, severities, texts, references, the backends each rule applies to."""
    rules = catalog().rules
    return _cacheable(answer(RuleList, {"rules": rules, "count": len(rules), "weights": catalog().weights}))


@api.get("/sources")
def list_sources() -> Response:
    """Every source's health, last sync, container count and error; 200 even when all are down."""
    statuses = _service().sources()
    body = {
        "sources": statuses,
        "count": len(statuses),
        "available": sum(1 for s in statuses if s.available),
        "partial": any(not s.available for s in statuses),
        "stale": any(s.stale for s in statuses),
    }
    return _cacheable(answer(Sources, body))


@api.get("/version")
def version() -> Response:
    s = _settings()
    fields = {"version": s.version, "git_sha": s.git_sha, "build_time": s.build_time}
    return answer(Version, fields | {"backend": _service().backend.name, "python": platform.python_version()})


@health.get("/healthz")
def healthz() -> Response:
    return answer(Health, {"status": "ok"})


@health.get("/readyz")
def readyz() -> Response:
    try:
        engine = _service().ping()
    except BackendUnavailable as exc:
        raise Problem(503, "not-ready", "Not ready", str(exc)) from None
    # 200 also while a source is stale (its last good state is served for LIVE_STALE_GRACE): synced says so.
    return answer(Ready, {"status": "ready", "synced": engine.synced, "stale": engine.stale, "backend": engine})


@health.get("/metrics")
def prometheus_metrics() -> Response:
    return Response(metrics.render(current_app.extensions["collector"]), mimetype=metrics.CONTENT_TYPE)


@health.get("/openapi.json")
def openapi() -> Response:
    settings = _settings()
    return jsonify(spec(settings.version, settings.page_limit_max))


__all__ = ["PROBLEM_JSON", "api", "health"]
