"""Wiring: settings, migrations, metrics endpoint, webhook sink, signals, the loop."""

from __future__ import annotations

import logging
import signal
import sys
import time
from types import FrameType

from prometheus_client import start_http_server
from sqlalchemy.exc import SQLAlchemyError

from ..config import ConfigError, RecorderSettings, load_recorder_settings
from ..history import db
from ..logs import configure_logging
from ..wiring import build_service, configure
from . import metrics
from .feed import ChangeFeed
from .loop import Recorder
from .reports import ReportsDirectory
from .store import HistoryStore
from .webhook import WebhookSink

log = logging.getLogger("inventory.recorder")


def _migrate(rec: RecorderSettings, stop: Recorder) -> None:
    engine = db.make_engine(rec.database_url)
    delay = 0.5
    while not stop.stopping.is_set():
        try:
            db.upgrade(engine)
            metrics.DB_UP.set(1)
            log.info("history database at head", extra={"database": db.redacted(rec.database_url)})
            return
        except SQLAlchemyError as exc:
            metrics.DB_UP.set(0)
            log.warning("history database unavailable; retrying", extra={"error": type(exc).__name__})
            stop.stopping.wait(delay)
            delay = min(delay * 2, 10.0)


def main() -> int:
    try:
        config = configure()  # the settings, every source, the waiver policy
        rec = load_recorder_settings()
    except ConfigError as exc:
        print(f"inventory-recorder: invalid configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.settings.log_level)
    # The recorder's own live state: it re-inspects a container on each of its lifecycle events (a restart
    # shows up through started_at), plus periodic resyncs; the loop wakes on every new snapshot version.
    service = build_service(config)  # every configured source
    service.start()
    engine = db.make_engine(rec.database_url)
    sink = WebhookSink(rec, ChangeFeed(engine)) if rec.webhook_url else None
    reports = ReportsDirectory(engine, rec.reports_dir, rec.report_max_bytes) if rec.reports_dir else None
    tasks = [reports.scan] if reports else []
    recorder = Recorder(service, HistoryStore(engine), rec.retention_days, sink.offer if sink else None, tasks)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("recorder stopping", extra={"signal": signum})
        recorder.stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if rec.metrics_port:
        start_http_server(rec.metrics_port, registry=metrics.REGISTRY)
    _migrate(rec, recorder)
    if sink:
        sink.start()
    log.info("recorder started", extra={"interval": rec.interval, "webhook": bool(sink), "reports_dir": bool(reports)})

    def wait(after_version: int) -> int:
        """Until the live state changes (or `interval` passes: waiver expiry, heartbeat, retries)."""
        return service.wait_for_change(after_version, rec.interval)

    started = time.monotonic()
    recorder.run(wait)
    service.stop()
    if sink:
        sink.stop(drain=min(5.0, time.monotonic() - started))
    return 0
