"""Posture engine v2: the rule catalog (catalog.yaml), checks, waivers, scores and typed reports."""

from __future__ import annotations

from .catalog import SEVERITIES, Catalog, Rule, catalog
from .engine import build_report, container_score, evaluate_container, overall_score, violated
from .report import ContainerReport, Finding, PostureReport, Score, count
from .waivers import Target, Waiver, WaiverFileError, WaiverPolicy, load_waiver_file

RULES: tuple[Rule, ...] = catalog().rules
RULES_BY_ID: dict[str, Rule] = catalog().by_id

__all__ = [
    "RULES",
    "RULES_BY_ID",
    "SEVERITIES",
    "Catalog",
    "ContainerReport",
    "Finding",
    "PostureReport",
    "Rule",
    "Score",
    "Target",
    "Waiver",
    "WaiverFileError",
    "WaiverPolicy",
    "build_report",
    "catalog",
    "container_score",
    "count",
    "evaluate_container",
    "load_waiver_file",
    "overall_score",
    "violated",
]
