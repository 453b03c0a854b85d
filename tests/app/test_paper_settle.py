"""The demo's paper day waits until the service has sent every TWAP slice and heard back for every
order before moving the paper market to the next bar (kimera/app/demo/paper_settle.py)."""

from __future__ import annotations

import sqlite3

from execution.journal import Journal
from kimera.app.demo.paper_settle import in_flight, wait_until_settled


def journal_with_a_working_parent(path) -> None:
    journal = Journal(path)
    journal.open()
    journal.close()
    with sqlite3.connect(path) as con:
        con.execute(
            "insert into parents (parent_id, signal_id, asset, side, quantity, created_at, slices, next_slice, "
            "status) values ('p1', 's1', 'ETH', 'buy', '3', 0, '[\"1\", \"1\", \"1\"]', 1, 'working')"
        )
        con.execute(
            "insert into orders values ('o1', 'p1', 'i1', 'alpha', 'ETH/USDT', 'ETH', 'buy', '1', '3000', 'IOC', "
            "'submitted', '0', '0', '0', '0', null, 1, null, 's1', null, null, 0, 0, 0)"
        )
    con.close()


def finish(path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("update parents set status = 'done', next_slice = 3")
        con.execute("update orders set state = 'filled', filled = '1'")
    con.close()


def test_a_working_parent_and_a_live_order_hold_the_paper_day_until_they_finish(tmp_path) -> None:
    path = tmp_path / "journal.sqlite"
    assert in_flight(path) == 0  # no journal yet: nothing in flight
    journal_with_a_working_parent(path)
    assert in_flight(path) == 2

    waits = []

    def sleep(s: float) -> None:  # the service finishes the parent while the demo waits
        waits.append(s)
        finish(path)

    assert wait_until_settled(path, deadline_s=60, sleep=sleep) == 0
    assert len(waits) == 1


def test_the_wait_ends_at_its_deadline_and_says_what_is_still_in_flight(tmp_path) -> None:
    path = tmp_path / "journal.sqlite"
    journal_with_a_working_parent(path)
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    assert wait_until_settled(path, deadline_s=5, poll_s=1, sleep=sleep, monotonic=lambda: now[0]) == 2
    assert now[0] == 5
