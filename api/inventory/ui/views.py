"""Dashboard routes: thin views over pages.py, the sign-in gate and the response headers every page gets."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers.response import Response as BaseResponse

from ..auth import TokenFile
from ..history.query import HistoryQueries, HistoryUnavailable
from ..model import AmbiguousReference, BackendUnavailable, NotFound
from ..problems import Problem
from ..service import InventoryService
from . import pages, reports, session, timeline

STATIC = Path(__file__).with_name("static")
# One definition of the dashboard's policy; nginx/snippets/ui-security-headers.conf sends the same at the
# edge (a unit test keeps the two equal). No script source at all: the UI works without JavaScript.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATIC_MAX_AGE = 86400


class _UIBlueprint(Blueprint):
    def get_send_file_max_age(self, filename: str | None) -> int:
        return STATIC_MAX_AGE  # asset URLs carry a content hash (?v=), so a day is safe


ui = _UIBlueprint(
    "ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static", static_url_path="/static"
)
OPEN_ENDPOINTS = ("ui.login", "ui.static")


def _service() -> InventoryService:
    found: InventoryService = current_app.extensions["inventory"]
    return found


def _token() -> TokenFile:
    found: TokenFile = current_app.extensions["token"]
    return found


def _history() -> HistoryQueries:
    found: HistoryQueries = current_app.extensions["history"]
    return found


def _history_ok() -> bool:
    """Whether this deployment records history (asked once per request)."""
    if "history_ok" not in g:
        g.history_ok = timeline.available(_history())
    return bool(g.history_ok)


def _navigation() -> list[tuple[str, str]]:
    """Main menu: a section appears only when its data exists (changes once history is recorded)."""
    items = [("ui.overview", "Overview"), ("ui.containers", "Containers"), ("ui.posture", "Posture")]
    items.append(("ui.sources", "Sources"))  # every deployment has at least its default source
    if _history_ok():
        items.append(("ui.changes", "Changes"))
    return items


@cache
def _asset_version(filename: str) -> str:
    return hashlib.sha256((STATIC / filename).read_bytes()).hexdigest()[:12]


@ui.app_template_global()
def asset(filename: str) -> str:
    return url_for("ui.static", filename=filename, v=_asset_version(filename))


def _signed_in() -> bool:
    token = _token()
    if not token.enabled:
        return True
    current = token.current()
    return current is not None and session.signed_in(current)


@ui.context_processor
def _context() -> dict[str, Any]:
    auth = _token().enabled
    signed = _signed_in()
    sources = _service().sources() if signed else ()
    return {
        "auth_enabled": auth,
        "show_logout": auth and signed,
        "csrf": session.csrf_token() if auth else "",
        "nav": _navigation() if signed else [],
        # Sources whose containers are missing from every answer right now (the banner on each page).
        "down_sources": [s for s in sources if not s.available],
        # Sources served from their last good state (lost their engine moments ago, within LIVE_STALE_GRACE).
        "stale_sources": [s for s in sources if s.stale],
        "version": current_app.config["INVENTORY_SETTINGS"].version,
    }


@ui.before_request
def _gate() -> BaseResponse | None:
    token = _token()
    if not token.enabled or request.endpoint in OPEN_ENDPOINTS:
        return None
    current = token.current()
    if current is None:
        raise Problem(503, "auth-unavailable", "Sign-in unavailable", "the API token file is missing or empty")
    if session.signed_in(current):
        return None
    return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))


@ui.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if request.endpoint != "ui.static":
        # Pages show live inventory and may belong to a signed-in user: never stored by any cache.
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Vary"] = "Cookie"
    return resp


def _error_page(status: int, title: str, detail: str) -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, detail=detail), status


@ui.errorhandler(BackendUnavailable)
def _unavailable(exc: BackendUnavailable) -> tuple[str, int]:
    return _error_page(503, "Container backend unavailable", str(exc))


@ui.errorhandler(HistoryUnavailable)
def _no_history(exc: HistoryUnavailable) -> tuple[str, int]:
    return _error_page(503, "History unavailable", str(exc))


@ui.errorhandler(Problem)
def _problem(exc: Problem) -> tuple[str, int]:
    return _error_page(exc.status, exc.title, exc.detail)


@ui.errorhandler(HTTPException)
def _http(exc: HTTPException) -> tuple[str, int]:
    return _error_page(exc.code or 500, exc.name, exc.description or "")


# -- sign-in -------------------------------------------------------------------------------------------
def _safe_next(raw: str | None) -> str:
    """Only a path inside the dashboard is a valid place to return to (no open redirect)."""
    parts = urlsplit(raw or "")
    if raw and not parts.scheme and not parts.netloc and parts.path.startswith("/ui/") and "\\" not in raw:
        return raw
    return url_for("ui.overview")


@ui.route("/login", methods=["GET", "POST"])
def login() -> Any:
    token = _token()
    target = _safe_next(request.values.get("next"))
    if not token.enabled:
        return redirect(target)
    current = token.current()
    if current is None:
        raise Problem(503, "auth-unavailable", "Sign-in unavailable", "the API token file is missing or empty")
    if request.method == "GET":
        if session.signed_in(current):
            return redirect(target)
        return render_template("login.html", next=target, error="")
    if not session.csrf_ok(request.form.get("csrf")):
        return render_template("login.html", next=target, error="The form expired; please try again."), 400
    if not session.token_matches(request.form.get("token", ""), current):
        return render_template("login.html", next=target, error="That token is not valid."), 401
    session.sign_in(current)
    return redirect(target, code=303)


@ui.post("/logout")
def logout() -> Any:
    if not session.csrf_ok(request.form.get("csrf")):
        raise Problem(400, "invalid-form", "Invalid form", "the sign-out form expired; reload the page")
    session.sign_out()
    return redirect(url_for("ui.login"), code=303)


# -- pages ---------------------------------------------------------------------------------------------
@ui.get("/")
def overview() -> str:
    g.nav = "ui.overview"
    history = _history_ok()
    return render_template(
        "overview.html",
        page=reports.overview(_service()),
        sources=pages.sources(_service()),
        trend=timeline.trend_chart(_history(), hours=24) if history else None,
        changes=timeline.recent(_history()) if history else None,
    )


@ui.get("/containers")
def containers() -> tuple[str, int]:
    g.nav = "ui.containers"
    page = pages.inventory(_service(), request.args)
    return render_template("containers.html", page=page), page.status


@ui.get("/containers/<path:ref>")
def container(ref: str) -> str | tuple[str, int]:
    g.nav = "ui.containers"
    try:
        page = reports.container(_service(), ref)
    except NotFound:
        workloads, changes = timeline.gone_history(_history(), ref) if len(ref) <= 256 else ([], [])
        if workloads:  # gone from the engine, but the history remembers it
            return render_template("container_gone.html", ref=ref, workloads=workloads, changes=changes), 404
        raise Problem(404, "container-not-found", "Container not found", f"no container matches {ref!r}") from None
    except AmbiguousReference as exc:
        detail = f"{ref!r} matches several containers ({', '.join(exc.matches)}); use a longer prefix"
        raise Problem(409, "ambiguous-reference", "Ambiguous container reference", detail) from None
    history = timeline.container_history(_history(), page.container) if _history_ok() else None
    return render_template("container.html", page=page, changes=history)


@ui.get("/posture")
def posture() -> str:
    g.nav = "ui.posture"
    page = reports.posture(_service(), request.args.get("severity", ""))
    trend = timeline.trend_chart(_history(), hours=24 * 7) if _history_ok() else None
    return render_template("posture.html", page=page, trend=trend)


@ui.get("/sources")
def sources() -> str:
    g.nav = "ui.sources"
    return render_template("sources.html", page=pages.sources(_service()))


@ui.get("/changes")
def changes() -> tuple[str, int]:
    g.nav = "ui.changes"
    page = timeline.timeline(_history(), request.args)
    return render_template("changes.html", page=page), 400 if page.error else 200


@ui.get("/<path:_anything>")
def not_found(_anything: str) -> tuple[str, int]:
    return _error_page(404, "Not Found", "There is no dashboard page at this address.")
