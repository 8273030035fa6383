"""The change table's hash chain (inventory.history.chain) on plain rows: every kind of tampering is found and
named by row; an intact chain, and one whose oldest rows were purged with the anchor kept, pass."""

from __future__ import annotations

from dataclasses import replace

import pytest
from inventory.history.chain import GENESIS, ChainRow, Head, link, verify


def chain(n: int, anchor: str = GENESIS, first: int = 1) -> list[ChainRow]:
    rows, prev = [], anchor
    for i in range(first, first + n):
        content = ("2026-12-07T00:00:00", "started", "local", f"c{i}", None, False)
        h = link(prev, i, content)
        rows.append(ChainRow(i, content, prev, h))
        prev = h
    return rows


def head(rows: list[ChainRow]) -> Head:
    return Head(rows[-1].id, rows[-1].hash)


def test_intact_chain_passes() -> None:
    rows = chain(50)
    report = verify(rows, GENESIS, head(rows))
    assert report.ok and report.rows == 50


def test_purged_start_passes_with_its_anchor_and_fails_without() -> None:
    rows = chain(50)
    kept = rows[20:]
    assert verify(kept, kept[0].prev_hash, head(rows)).ok
    assert verify(kept, GENESIS, head(rows)).problems == ("row(s) removed before row 21 (at the start of the chain)",)


def test_edited_row_is_named() -> None:
    rows = chain(10)
    rows[4] = replace(rows[4], content=(*rows[4].content[:3], "c-other", None, False))
    assert verify(rows, GENESIS, head(rows)).problems[0] == (
        "row 5 does not match its hash: it was edited or moved from another position"
    )


def test_edited_and_rehashed_row_breaks_the_next_link() -> None:
    rows = chain(10)
    content = (*rows[4].content[:3], "c-other", None, False)
    rows[4] = replace(rows[4], content=content, hash=link(rows[4].prev_hash, 5, content))
    assert verify(rows, GENESIS, head(rows)).problems == ("row(s) removed before row 6 (after row 5)",)


def test_removed_row_is_named() -> None:
    rows = chain(10)
    del rows[6]
    assert verify(rows, GENESIS, head(rows)).problems == ("row(s) removed before row 8 (after row 6)",)


def test_reordered_rows_are_named() -> None:
    rows = chain(10)
    # Swap the positions of rows 4 and 5 with their ids kept (a reorder that keeps each row's own hash valid is
    # only possible by renumbering, which the id in the hash catches; here the rows are walked in a new order).
    rows[3], rows[4] = rows[4], rows[3]
    problems = verify(rows, GENESIS, head(rows)).problems
    assert problems[0] == "row(s) removed before row 5 (after row 3)"
    assert problems[1] == "row 4 follows row 3, not row 5: rows were reordered"


def test_renumbered_row_does_not_match_its_hash() -> None:
    rows = chain(10)
    rows[3], rows[4] = replace(rows[4], id=4), replace(rows[3], id=5)
    assert verify(rows, GENESIS, head(rows)).problems[0].startswith("row 4 does not match its hash")


@pytest.mark.parametrize("cut", [1, 3])
def test_removed_newest_rows_are_found_by_the_head(cut: int) -> None:
    rows = chain(10)
    recorded = head(rows)
    assert verify(rows[:-cut], GENESIS, recorded).problems == (
        f"the newest rows were removed: the chain ends at row {10 - cut}, its head is row 10",
    )


def test_rows_added_behind_the_recorders_back() -> None:
    rows = chain(10)
    recorded = Head(8, rows[7].hash)
    assert verify(rows, GENESIS, recorded).problems == (
        "rows after row 8 were added outside the recorder (its recorded head is row 8)",
    )


def test_problem_list_is_bounded() -> None:
    rows = [replace(r, hash="f" * 64) for r in chain(100)]
    assert len(verify(rows, GENESIS, None, limit=5).problems) == 5
