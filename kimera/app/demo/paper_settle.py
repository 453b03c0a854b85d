"""The paper day waits for the service's parents before the paper market moves on.

The service sends a TWAP parent's slices ``execution.routing.twap_interval_s`` apart in its own
time, while the serve stage moves the paper market a whole bar at each push. Moving on while a
parent still has slices to send would fill them against a later bar's book (hours later on the
paper day), which no decision of that bar saw. So after each bar's pushes the serve stage waits
until no parent is working and no order is live in the service's journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kimera.config import ExecutionRouting

LIVE_ORDER_STATES = ("acknowledged", "new", "partially_filled", "submitted", "unknown")


def in_flight(journal: str | Path) -> int:
    """Parents still working plus orders still live in the journal at ``journal`` (read-only)."""
    from execution.journal_reader import JournalReader

    reader = JournalReader(journal)
    if not reader.exists:
        return 0
    try:
        marks = ", ".join("?" * len(LIVE_ORDER_STATES))
        working = reader.rows("SELECT count(*) FROM parents WHERE status = 'working'")[0][0]
        live = reader.rows(f"SELECT count(*) FROM orders WHERE state IN ({marks})", LIVE_ORDER_STATES)[0][0]
    finally:
        reader.close()
    return int(working) + int(live)


def books_deadline_s(routing: ExecutionRouting) -> float:
    """How long a paper day waits for the service's books to show a moved market: they follow it
    within a refresh or two (every ``min(0.25, book_max_age_s / 4)`` s), so ten times the larger."""
    return 10 * max(0.25, routing.book_max_age_s)


def slices_deadline_s(routing: ExecutionRouting) -> float:
    """How long a paper day waits for a bar's parents: their slices go out ``twap_interval_s``
    apart, so wait (generously) for the last before the market moves on, or it would fill against
    a later bar's book."""
    return 30.0 + 10 * routing.twap_interval_s


def wait_for_books(
    service_url: str,
    moment: float,
    deadline_s: float,
    poll_s: float = 0.02,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> bool:
    """Wait until the execution service's books are stamped at or after ``moment`` (epoch s, market
    time: its ``/healthz`` says ``market_as_of``); False when ``deadline_s`` passed first."""
    import httpx

    until = monotonic() + deadline_s
    while True:
        try:
            as_of = httpx.get(f"{service_url}/healthz", timeout=2.0).json().get("market_as_of")
        except (httpx.HTTPError, ValueError):
            as_of = None
        if as_of is not None and as_of >= moment:
            return True
        if monotonic() >= until:
            return False
        sleep(poll_s)


def wait_until_settled(
    journal: str | Path,
    deadline_s: float,
    poll_s: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Wait until nothing is in flight (0 returned) or ``deadline_s`` has passed (what is still in
    flight returned)."""
    until = monotonic() + deadline_s
    while (left := in_flight(journal)) and monotonic() < until:
        sleep(poll_s)
    return left
