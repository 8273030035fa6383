"""Names several suites pin: one list, so the alert rules, runbooks and tests cannot drift apart."""

from __future__ import annotations

# Every alert in deploy/monitoring/alerts/ has exactly these names and one `### <name>` section
# in docs/RUNBOOKS.md that its runbook_url points at.
ALERT_NAMES: tuple[str, ...] = (
    "InventoryApiHighErrorRate",
    "InventoryApiLatencySLOBurnFast",
    "InventoryApiLatencySLOBurnSlow",
    "InventoryBackendUnreachable",
    "InventorySourceUnavailable",
    "InventoryPodCrashLooping",
    "InventoryPodRestarting",
    "NginxDown",
    "NginxUpstreamErrors",
    "KedaScaledObjectAtMaxReplicas",
    "InventoryHighPostureFinding",
    "InventoryWaiverExpiringSoon",
)
