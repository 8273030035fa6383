"""History routes: /api/changes, /api/containers/{ref}/history, /api/posture/trend (thin: parse, query, serialize)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from ..apimodel import answer
from ..config import Settings
from ..model import AmbiguousReference, BackendUnavailable, NotFound
from ..problems import Problem, problem_response
from ..service import InventoryService
from ..workload import workload_identity
from . import openapi
from .params import cursor_for, parse_changes, parse_history, parse_trend
from .query import ChangePage, HistoryQueries, HistoryUnavailable
from .records import utcnow

history_api = Blueprint("history", __name__, url_prefix="/api")


def _queries() -> HistoryQueries:
    found: HistoryQueries = current_app.extensions["history"]
    return found


def _settings() -> Settings:
    found: Settings = current_app.config["INVENTORY_SETTINGS"]
    return found


def _service() -> InventoryService:
    found: InventoryService = current_app.extensions["inventory"]
    return found


@history_api.before_request
def _authenticate() -> None:
    current_app.extensions["token"].check(request.headers.get("Authorization"))


@history_api.errorhandler(HistoryUnavailable)
def _unavailable(exc: HistoryUnavailable) -> Response:
    problem = Problem(503, "history-unavailable", "History database unavailable", str(exc))
    return problem_response(problem, {"Retry-After": "5"})


def _page_body(page: ChangePage) -> dict[str, object]:
    return {"items": page.items, "count": len(page.items), "next_cursor": cursor_for(page.next_cursor_id)}


@history_api.get("/changes")
def changes() -> Response:
    s = _settings()
    page = _queries().changes(parse_changes(request.args, s.page_limit_default, s.page_limit_max))
    return answer(openapi.ChangePage, _page_body(page))


@history_api.get("/containers/<path:ref>/history")
def container_history(ref: str) -> Response:
    s = _settings()
    limit, after = parse_history(request.args, s.page_limit_default, s.page_limit_max)
    if not ref or len(ref) > 256 or not ref.isprintable():
        raise Problem(404, "container-not-found", "Container not found", "no container matches that reference")
    ids: list[str] = []
    try:
        container = _service().resolve(ref)
        workloads, ids = [workload_identity(container)], [container.id]
    except AmbiguousReference as exc:
        raise Problem(
            409,
            "ambiguous-reference",
            "Ambiguous container reference",
            f"{ref!r} matches several containers",
            matches=exc.matches,
        ) from None
    except (NotFound, BackendUnavailable):
        workloads = _queries().workloads_of(ref)  # gone (or engine down): what the history knows
    if not workloads:
        raise Problem(404, "container-not-found", "Container not found", f"no container or history matches {ref!r}")
    body = {"container": ref, "workloads": workloads, **_page_body(_queries().history(workloads, ids, limit, after))}
    return answer(openapi.ContainerHistory, body)


@history_api.get("/posture/trend")
def posture_trend() -> Response:
    since, until, bucket = parse_trend(request.args, utcnow())
    return answer(openapi.PostureTrend, _queries().trend(since, until, bucket))
