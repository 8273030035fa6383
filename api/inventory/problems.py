"""RFC 9457 problem details: every error the API returns goes through here."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from .model import AmbiguousReference, BackendUnavailable, NotFound

PROBLEM_BASE = "https://github.com/container-inventory/problems/"
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error that maps to one problem+json response with a stable ``type``."""

    def __init__(self, status: int, slug: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        body["instance"] = request.path if request else None
        body.update(self.extra)
        return body


def bad_parameter(name: str, detail: str) -> Problem:
    return Problem(400, "invalid-parameter", "Invalid query parameter", detail, parameter=name)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(problem.to_dict()), status=problem.status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


_HTTP_SLUGS = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 429: "too-many-requests"}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        headers = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="inventory"'
        if exc.status == 503:
            headers["Retry-After"] = "2"
        return problem_response(exc, headers)

    @app.errorhandler(BackendUnavailable)
    def _unavailable(exc: BackendUnavailable) -> Response:
        return _problem(Problem(503, "backend-unavailable", "Container backend unavailable", str(exc)))

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        ref = exc.args[0] if exc.args else ""
        return _problem(Problem(404, "container-not-found", "Container not found", f"no container matches {ref!r}"))

    @app.errorhandler(AmbiguousReference)
    def _ambiguous(exc: AmbiguousReference) -> Response:
        detail = f"{exc.ref!r} matches several containers; use a longer prefix"
        return _problem(
            Problem(409, "ambiguous-reference", "Ambiguous container reference", detail, matches=exc.matches)
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        slug = _HTTP_SLUGS.get(status, f"http-{status}")
        resp = problem_response(Problem(status, slug, exc.name, exc.description or ""))
        if status == 405 and exc.get_response().headers.get("Allow"):
            resp.headers["Allow"] = exc.get_response().headers["Allow"]
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Never a stack trace to the client; the log line carries the details.
        app.logger.exception("unhandled error")
        return problem_response(Problem(500, "internal-error", "Internal Server Error", "an unexpected error occurred"))
