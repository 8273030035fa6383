"""Every invops command the tested runbook blocks show (docs/RUNBOOKS.md) was really run by this session's tests:
the same area and action, every option the runbook line uses, exit code 0. Recorded by the `invops` helper of
conftest.py as the other ops tests run; this file sorts last so it runs after them (a regex hit in a test file,
as before, counted commands nobody ran)."""

from __future__ import annotations

import pytest

from tests.ops.conftest import INVOPS_CALLS
from tests.ops.test_docs import RUNBOOKS, runbook_commands
from tests.support.prereq import unavailable

# The test files that run the runbooks' invops commands; all of them must be part of the session.
RUNNERS = {
    "test_etcd.py",
    "test_volume_image.py",
    "test_config.py",
    "test_cli.py",
    "test_docker_deploy.py",
    "test_history_cli.py",
}


def flags(argv: list[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in argv if a.startswith("-")}


def test_every_runbook_command_ran_with_its_options(request: pytest.FixtureRequest) -> None:
    collected = {item.path.name for item in request.session.items}
    if not RUNNERS <= collected:
        unavailable(f"run the whole ops suite (make test-ops): {sorted(RUNNERS - collected)} not in this session")
    commands = runbook_commands(RUNBOOKS.read_text())
    assert len(commands) >= 10, "the runbook parser found too few commands"
    missing = []
    for argv in commands:
        area, action = argv[0], argv[1]
        ran = [call for call, rc in INVOPS_CALLS if rc == 0 and call[:2] == [area, action]]
        if not any(flags(argv) <= flags(call) for call in ran):
            best = max((flags(c) for c in ran), key=lambda f: len(f & flags(argv)), default=set())
            missing.append(f"invops {area} {action}: options {sorted(flags(argv) - best)} never ran successfully")
    assert not missing, "runbook commands no test ran:\n" + "\n".join(missing)
