"""A waiver covers only its target: a `namespace` target waives that namespace's containers and no other, an
`image` glob waives matching images and no other (a waiver meant for one namespace or image must not waive all).
The waivers come from a real waiver file through the real loader; the verdicts from the real engine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from inventory.posture import catalog, evaluate_container, load_waiver_file
from test_posture import CONTAINER, HARDENED

RULES = {r.id for r in catalog().rules}
ROOT_USER = dataclasses.replace(HARDENED, user="")  # breaks run-as-root
FILE = """
version: 1
waivers:
  - rule: run-as-root
    target: {namespace: legacy}
    reason: legacy namespace, migration planned
    owner: team-a
    expires: "2999-01-01"
  - rule: run-as-root
    target: {image: "registry.local/vendor/*"}
    reason: vendor images run as root, ticket filed
    owner: team-b
    expires: "2999-01-01"
"""


@pytest.fixture(scope="module")
def waivers(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    path: Path = tmp_path_factory.mktemp("w") / "waivers.yaml"
    path.write_text(FILE)
    return load_waiver_file(str(path), RULES).waivers


def waived_by(waivers: tuple, namespace: str | None, image: str) -> str | None:
    container = dataclasses.replace(CONTAINER, namespace=namespace, image=image)
    findings = evaluate_container(container, ROOT_USER, "kubernetes", waivers=waivers).findings
    (finding,) = [f for f in findings if f.rule == "run-as-root"]
    assert all(f.waiver is None for f in findings if f is not finding)  # the waivers name run-as-root only
    return finding.waiver.owner if finding.waiver else None


@pytest.mark.parametrize(
    ("namespace", "image", "owner"),
    [
        ("legacy", "registry.local/team/app:1", "team-a"),  # the namespace waiver
        ("payments", "registry.local/team/app:1", None),  # another namespace: not waived
        (None, "registry.local/team/app:1", None),  # no namespace (Docker): not waived
        ("payments", "registry.local/vendor/db:9", "team-b"),  # the image glob
        ("payments", "registry.local/vendorx/db:9", None),  # near miss of the glob
        ("payments", "docker.io/registry.local/vendor/db:9", None),  # the glob is anchored
    ],
)
def test_waiver_target_selects_only_its_containers(waivers: tuple, namespace: str | None, image: str, owner) -> None:
    assert waived_by(waivers, namespace, image) == owner
