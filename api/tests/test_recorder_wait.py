"""The recorder's loop while every engine is down: a failed cycle observes nothing, so the next wait must be past
the live-state version the last wait saw, not the recorder's old one (which returned at once: 29,487 "backend
unavailable" lines in 25 s from the image with an unreachable engine)."""

from __future__ import annotations

import pytest
from inventory.model import BackendUnavailable
from inventory.recorder.loop import Recorder


class Down(Recorder):
    def __init__(self) -> None:
        super().__init__(reader=None, store=None, retention_days=30)  # type: ignore[arg-type]  # cycle is replaced
        self.cycles = 0

    def cycle(self) -> list[object]:  # type: ignore[override]
        self.cycles += 1
        raise BackendUnavailable("engine unreachable")


def test_a_down_engine_makes_the_loop_wait_not_spin(caplog: pytest.LogCaptureFixture) -> None:
    rec = Down()
    waited: list[int] = []

    def wait(after_version: int) -> int:
        waited.append(after_version)
        if len(waited) == 3:
            rec.stopping.set()
        return 7  # the live state is at version 7 (it published its "unavailable" state), and stays there

    rec.run(wait)
    assert waited == [0, 7, 7], "after the first wait, the loop waits past the version it saw"
    assert rec.cycles == 3
    assert [r.getMessage() for r in caplog.records].count("backend unavailable; will retry") == 3


def test_a_successful_cycle_waits_past_what_it_observed() -> None:
    class Up(Recorder):
        def __init__(self) -> None:
            super().__init__(reader=None, store=None, retention_days=30)  # type: ignore[arg-type]

        def cycle(self) -> list[object]:  # type: ignore[override]
            self.version = 12  # observe() saw version 12
            return []

        def purge_if_due(self) -> None:
            return None

    rec = Up()
    waited: list[int] = []

    def wait(after_version: int) -> int:
        waited.append(after_version)
        rec.stopping.set()
        return after_version

    rec.run(wait)
    assert waited == [12]
