"""Flask app factory and request hooks (metrics, request id, access log)."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from . import metrics
from .auth import TokenFile
from .backends import Backend
from .conditional import RenderedPages
from .history.query import HistoryQueries
from .history.views import history_api
from .logs import configure_logging
from .problems import register_error_handlers
from .service import InventoryService
from .tracing import configure_tracing
from .ui import init_ui
from .views import api, health
from .wiring import Configured, build_service, configure

__all__ = ["create_app"]

access_log = logging.getLogger("inventory.access")
_REQUEST_ID_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def _request_id() -> str:
    """Use Nginx's X-Request-ID when it looks sane, otherwise make one."""
    incoming = request.headers.get("X-Request-ID", "")
    if 0 < len(incoming) <= 128 and set(incoming) <= _REQUEST_ID_OK:
        return incoming
    return uuid.uuid4().hex


def _install_request_hooks(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.start = time.perf_counter()
        g.request_id = _request_id()
        metrics.HTTP_IN_FLIGHT.inc()
        g.in_flight = True

    @app.after_request
    def _finish(resp: Response) -> Response:
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        route = request.url_rule.rule if request.url_rule else "unmatched"
        duration = time.perf_counter() - g.get("start", time.perf_counter())
        status = str(resp.status_code)
        metrics.HTTP_REQUESTS.labels(route, request.method, status).inc()
        metrics.HTTP_LATENCY.labels(route, request.method, status).observe(duration)
        if route not in ("/healthz", "/readyz", "/metrics"):
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    "route": route,
                    "path": request.path,
                    "status": resp.status_code,
                    "duration_ms": round(duration * 1000, 2),
                },
            )
        return resp

    @app.teardown_request
    def _teardown(_exc: BaseException | None) -> None:
        if g.pop("in_flight", False):
            metrics.HTTP_IN_FLIGHT.dec()


def create_app(
    config: Configured | None = None, backend: Backend | None = None, service: InventoryService | None = None
) -> Flask:
    """The API over ``config`` (default: the environment's); ``backend`` or ``service`` replace the configured
    sources (tests, tools)."""
    config = config or configure()
    settings = config.settings
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider
    app.config["INVENTORY_SETTINGS"] = settings
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops, x_proto=0, x_host=0)  # type: ignore[method-assign]
    # Every configured source (SOURCES_FILE or the single env source); an explicit backend is the one source.
    service = service or build_service(config, backend)
    app.extensions["inventory"] = service
    app.extensions["token"] = TokenFile(settings.api_token_file)
    app.extensions["history"] = HistoryQueries(settings.database_url)
    app.extensions["pages"] = RenderedPages()
    app.extensions["collector"] = metrics.InventoryCollector(
        service.snapshot,
        {"version": settings.version, "revision": settings.git_sha, "backend": service.backend.name},
    )
    register_error_handlers(app)
    _install_request_hooks(app)
    app.register_blueprint(api)
    app.register_blueprint(history_api)
    app.register_blueprint(health)
    init_ui(app, settings, app.extensions["token"])
    configure_tracing(app, settings.version)
    return app
