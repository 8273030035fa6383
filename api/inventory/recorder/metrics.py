"""Recorder and webhook metrics (their own registry: the recorder is a single process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

CHANGES = Counter("inventory_recorder_changes_total", "Changes recorded", ["kind", "while_away"], registry=REGISTRY)
CYCLES = Counter("inventory_recorder_cycles_total", "Recorder cycles by outcome", ["outcome"], registry=REGISTRY)
CYCLE_SECONDS = Histogram(
    "inventory_recorder_cycle_duration_seconds",
    "Time to observe, diff and store one cycle",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "inventory_recorder_last_success_timestamp_seconds", "Unix time of the last stored cycle", registry=REGISTRY
)
DB_UP = Gauge("inventory_recorder_database_up", "1 if the last cycle reached the database", registry=REGISTRY)
OPEN_FINDINGS = Gauge(
    "inventory_recorder_open_findings",
    "Open (unwaived) findings of running containers by severity (the totals of /api/posture)",
    ["severity"],
    registry=REGISTRY,
)
WEBHOOK = Counter(
    "inventory_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, failed (will retry), dropped (given up)",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_QUEUE = Gauge(
    "inventory_webhook_queue_length", "Stored changes the webhook sink has not handled yet", registry=REGISTRY
)
