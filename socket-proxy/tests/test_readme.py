"""socket-proxy/README.md's allowlist table says exactly what request_rules.ROUTES lets through."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from events_filter import EVENT_ACTIONS, EVENT_ATTRIBUTES, EXEC_ACTIONS, EXEC_ATTRIBUTES
from request_rules import ALLOWED_METHODS, REDACT_CONFIG, REDACT_TOP, ROUTES, match_route

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- allowlist:start -->", "<!-- allowlist:end -->"


def table_rows(text: str) -> dict[str, dict[str, str]]:
    """route -> {methods, path, query, example} from the table between the allowlist markers."""
    body = text.split(START, 1)[1].split(END, 1)[0]
    rows = [line.strip().strip("|").split(" | ") for line in body.strip().splitlines()[2:]]
    out = {}
    for cells in rows:
        route, methods, path, query, example = (c.strip() for c in cells)
        out[route.strip("`")] = {"methods": methods, "path": path, "query": query, "example": example.strip("`")}
    return out


def documented_params(query: str) -> set[str]:
    """The parameter names a query cell lists: its backticked words outside parentheses (which explain values)."""
    return set(re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", query)))


ROWS = table_rows(README.read_text(encoding="utf-8"))


def test_every_route_has_exactly_one_row() -> None:
    assert set(ROWS) == {name for _, name, _ in ROUTES}


@pytest.mark.parametrize(("pattern", "name", "params"), ROUTES, ids=[name for _, name, _ in ROUTES])
def test_row_matches_the_route(pattern: re.Pattern[str], name: str, params: frozenset[str]) -> None:
    row = ROWS[name]
    assert documented_params(row["query"]) == set(params), f"{name}: README lists {row['query']!r}"
    methods = [m.strip() for m in row["methods"].split(",")]
    assert set(methods) <= set(ALLOWED_METHODS)
    for method in ALLOWED_METHODS:
        route, reason = match_route(method, row["example"])
        if method in methods:
            assert (route, reason) == (name, "ok"), f"{method} {row['example']}: {reason}"
        else:
            assert route is None, f"{method} {row['example']} passes, the README says it does not"


def test_removed_fields_and_events_are_documented() -> None:
    text = README.read_text(encoding="utf-8").split("## What it removes", 1)[1].split("##", 1)[0]
    for key in REDACT_CONFIG:
        assert f"`Config.{key}`" in text
    for key in REDACT_TOP:
        assert f"`{key}`" in text
    for action in EVENT_ACTIONS | EXEC_ACTIONS:
        assert f"`{action}`" in text
    for attribute in (*EVENT_ATTRIBUTES, *EXEC_ATTRIBUTES, "privileged", "user"):
        assert f"`{attribute}`" in text


def test_the_check_reads_the_table_it_claims_to() -> None:
    """Negative control: a row whose example the matcher refuses, or a missing parameter, is caught."""
    broken = ROWS["list"] | {"query": "`all`, `limit`"}
    assert documented_params(broken["query"]) != set(dict((n, p) for _, n, p in ROUTES)["list"])
    assert match_route("GET", "/containers/3f1c2a9b7d10/logs")[0] is None
    assert documented_params("`filters` (required, `type=container`; optionally `event`), `since`") == {
        "filters",
        "since",
    }
