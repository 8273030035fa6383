"""OpenTelemetry tracing: Flask server spans, outgoing HTTP (docker SDK / kubernetes) spans.

Configured by the standard OTEL_* variables. Export is on only when an endpoint is set
(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), so the local stack
runs without a collector. W3C ``traceparent`` from Nginx is honoured (default propagator).
"""

from __future__ import annotations

import logging
import os

from flask import Flask

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
    FlaskInstrumentor().instrument_app(app, excluded_urls="healthz,readyz,metrics")
    if not RequestsInstrumentor().is_instrumented_by_opentelemetry:
        RequestsInstrumentor().instrument()
    log.info("tracing configured", extra={"otlp_export": bool(endpoint)})
    return bool(endpoint)
