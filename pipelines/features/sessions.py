"""Session calendars: when a market is closed, its silence is not a gap (and nothing is filled).

Crypto trades around the clock; FX and equities close at weekends. A calendar is a list of weekly
closed spans, in minutes from Monday 00:00 UTC; ``closed_seconds`` says how much of a silence fell
in them, so the raw gaps check measures only the open time a series was silent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kimera.sessions import CALENDARS

__all__ = ["CALENDARS", "closed_seconds"]

WEEK = timedelta(days=7)
MONDAY = datetime(2024, 1, 1)  # a Monday, 00:00 UTC


def closed_seconds(start: datetime, end: datetime, calendar: str) -> float:
    """Seconds of ``[start, end)`` (naive UTC) that fall in the calendar's closed sessions."""
    spans = CALENDARS[calendar]
    if not spans or end <= start:
        return 0.0
    week_start = start - (start - MONDAY) % WEEK
    total = 0.0
    while week_start < end:
        for lo, hi in spans:
            closed_from = week_start + timedelta(minutes=lo)
            closed_to = week_start + timedelta(minutes=hi)
            overlap = min(end, closed_to) - max(start, closed_from)
            total += max(overlap.total_seconds(), 0.0)
        week_start += WEEK
    return total
