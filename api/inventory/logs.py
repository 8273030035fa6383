"""One JSON object per log line on stdout, with request and trace correlation."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context, request

# Attributes every LogRecord has; anything else passed via ``extra=`` is emitted as a field.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
# Never emitted even if a caller passes them by mistake.
_REDACT = {"authorization", "token", "password", "secret", "env", "cookie"}


def _trace_ids() -> tuple[str | None, str | None]:
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - otel is a hard dependency of the image
        return None, None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id, span_id = _trace_ids()
        if trace_id:
            doc["trace_id"], doc["span_id"] = trace_id, span_id
        if has_request_context():
            doc.setdefault("request_id", getattr(g, "request_id", None))
            doc.setdefault("client_ip", request.remote_addr)
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_") and key.lower() not in _REDACT:
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "docker", "kubernetes"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
