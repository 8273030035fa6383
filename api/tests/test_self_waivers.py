"""Self-waivers, exactly: what a container's ``container-inventory.io/waive.<rule>`` value becomes, and which
values are ignored (malformed JSON, a missing or blank field, a bad date, an unknown rule) without hiding the
well-formed ones next to them."""

from __future__ import annotations

import json
from datetime import date

import pytest
from inventory.posture.waivers import Target, Waiver, self_waivers

KNOWN = {"added-capabilities", "host-network", "privileged"}


def value(**fields: str) -> str:
    base = {"reason": " needs raw sockets ", "owner": " netops ", "expires": "2999-01-01"}
    return json.dumps({k: v for k, v in {**base, **fields}.items() if v != "-"})


def test_well_formed_requests_become_label_waivers_sorted_by_rule() -> None:
    requests = {"privileged": value(reason="vendor box", owner="team-db"), "added-capabilities": value()}
    assert self_waivers(requests, KNOWN, "label") == [
        Waiver("added-capabilities", Target(), "needs raw sockets", "netops", date(2999, 1, 1), "label"),
        Waiver("privileged", Target(), "vendor box", "team-db", date(2999, 1, 1), "label"),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        '["a", "list"]',
        value(reason="-"),
        value(owner="-"),
        value(expires="-"),
        value(expires="next year"),
        value(reason="  "),
        value(owner=""),
    ],
)
def test_a_malformed_request_is_ignored_and_hides_no_other(bad: str) -> None:
    # "added-capabilities" sorts first: a bad value there must not stop the loop before the good one
    requests = {"added-capabilities": bad, "privileged": value()}
    assert [w.rule for w in self_waivers(requests, KNOWN, "annotation")] == ["privileged"]


def test_a_request_for_an_unknown_rule_is_ignored() -> None:
    assert self_waivers({"no-such-rule": value()}, KNOWN, "label") == []
