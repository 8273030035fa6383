"""OpenTelemetry tracing: Flask server spans, outgoing HTTP (docker SDK / kubernetes) spans.

Configured by the standard OTEL_* variables. Spans are made only when they go somewhere: with an endpoint
(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) every request gets a server span and
outgoing HTTP gets client spans. Without one (the local stack runs without a collector) the caller's W3C
``traceparent`` (Nginx's) is only made current for the request, so log lines still carry its trace id, at a
fraction of a span's cost per request.
"""

from __future__ import annotations

import logging
import os

from flask import Flask, g, request

log = logging.getLogger(__name__)


def configure_tracing(app: Flask, service_version: str) -> bool:
    from opentelemetry import trace
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        resource = Resource.create(
            {
                "service.name": os.environ.get("OTEL_SERVICE_NAME", "flask-api"),
                "service.version": service_version,
            }
        )
        # Sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on).
        provider = TracerProvider(resource=resource)
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    if not endpoint:
        _propagate_only(app)
        log.info("tracing configured", extra={"otlp_export": False})
        return False
    FlaskInstrumentor().instrument_app(app, excluded_urls="healthz,readyz,metrics")
    if not RequestsInstrumentor().is_instrumented_by_opentelemetry:
        RequestsInstrumentor().instrument()
    log.info("tracing configured", extra={"otlp_export": True})
    return True


def _propagate_only(app: Flask) -> None:
    """Make the incoming trace context current for each request (no span: nothing would export it)."""
    from opentelemetry import context
    from opentelemetry.propagate import extract

    @app.before_request
    def _attach() -> None:
        if "traceparent" in request.headers:
            g.otel_token = context.attach(extract(request.headers))

    @app.teardown_request
    def _detach(_exc: BaseException | None) -> None:
        token = g.pop("otel_token", None)
        if token is not None:
            context.detach(token)
