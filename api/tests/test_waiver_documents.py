"""What a waiver looks like to a reader of the API (Waiver.to_dict, Target.to_dict: only the fields given), what a
labels target covers, and the one-line error of a waiver file YAML cannot read, with the line it stopped at when
YAML knows it."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from inventory.posture.waivers import Target, Waiver, WaiverFileError, load_waiver_file


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        (Target(), {}),
        (Target(name="web-*"), {"name": "web-*"}),
        (Target(image="nginx:*"), {"image": "nginx:*"}),
        (Target(namespace="shop"), {"namespace": "shop"}),
        (Target(labels={"tier": "db"}), {"labels": {"tier": "db"}}),
        (
            Target("shop/api-*/api", "registry/api:*", "shop", {"tier": "web"}),
            {"name": "shop/api-*/api", "image": "registry/api:*", "namespace": "shop", "labels": {"tier": "web"}},
        ),
    ],
)
def test_a_target_shows_the_fields_it_was_given(target: Target, shown: dict[str, object]) -> None:
    assert target.to_dict() == shown


def test_a_waiver_as_the_api_shows_it() -> None:
    waiver = Waiver("privileged", Target(name="legacy-*"), "vendor box", "team-db", date(2999, 1, 31), "annotation")
    assert waiver.to_dict() == {
        "rule": "privileged",
        "target": {"name": "legacy-*"},
        "reason": "vendor box",
        "owner": "team-db",
        "expires": "2999-01-31",
        "origin": "annotation",
    }


def test_a_yaml_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("version: 1\nwaivers:\n  - rule: privileged\n    target: {name: [\n", encoding="utf-8")
    with pytest.raises(WaiverFileError, match=rf"^WAIVER_FILE {re.escape(str(path))}: not valid YAML/JSON line 5$"):
        load_waiver_file(str(path), {"privileged"})


def test_an_unreadable_character_is_a_yaml_error_without_a_line(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("version: 1\nwaivers: []\n# bell \x07\n", encoding="utf-8")
    with pytest.raises(WaiverFileError, match=rf"^WAIVER_FILE {re.escape(str(path))}: not valid YAML/JSON$"):
        load_waiver_file(str(path), {"privileged"})


@pytest.mark.parametrize(
    ("labels", "covered"),
    [
        ({"tier": "db", "team": "a"}, True),
        ({"tier": "db"}, False),  # one of the target's labels missing
        ({"tier": "web", "team": "a"}, False),  # one with another value
        ({}, False),
    ],
)
def test_a_labels_target_needs_every_label_with_its_value(labels: dict[str, str], covered: bool) -> None:
    target = Target(labels={"tier": "db", "team": "a"})
    assert target.matches("web", "nginx:1", None, labels) is covered


FULL_TARGET = """
version: 1
waivers:
  - rule: privileged
    target: {name: "shop/*", image: "registry.local/*", namespace: shop, labels: {tier: db}}
    reason: "  vendor appliance  "
    owner: " team-db "
    expires: "2999-01-31"
"""


def test_a_waiver_file_entry_becomes_exactly_that_waiver(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(FULL_TARGET, encoding="utf-8")
    policy = load_waiver_file(str(path), {"privileged"})
    target = Target(name="shop/*", image="registry.local/*", namespace="shop", labels={"tier": "db"})
    assert policy.waivers == (Waiver("privileged", target, "vendor appliance", "team-db", date(2999, 1, 31)),)
    assert policy.path == str(path)
    assert policy.self_waivers is False  # self-waivers are off unless the operator allows them


def test_a_missing_waiver_file_says_why_it_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(WaiverFileError, match=rf"^WAIVER_FILE {re.escape(str(path))}: cannot read \(No such file"):
        load_waiver_file(str(path), {"privileged"})
