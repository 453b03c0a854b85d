"""Session calendars: when a market is closed, its silence is not a gap (and nothing is filled).

Crypto trades around the clock; FX and equities close at weekends and exchanges on holidays. A
calendar (``kimera.sessions``) is a weekly pattern of closed spans plus closed dates;
``closed_seconds`` says how much of a silence fell in them, so the raw gaps check measures only the
open time a series was silent: a weekend or a holiday is not a gap, a silent open weekday is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kimera.sessions import CALENDARS, Calendar, as_calendar, closed_date_spans

__all__ = ["CALENDARS", "closed_seconds"]

WEEK = timedelta(days=7)
MONDAY = datetime(2024, 1, 1)  # a Monday, 00:00 UTC


def closed_seconds(start: datetime, end: datetime, calendar: str | Calendar) -> float:
    """Seconds of ``[start, end)`` (naive UTC) that fall in the calendar's closed sessions or dates."""
    cal = as_calendar(calendar)
    spans = CALENDARS[cal.weekly]
    if end <= start:
        return 0.0
    total = 0.0
    if spans:
        week_start = start - (start - MONDAY) % WEEK
        while week_start < end:
            for lo, hi in spans:
                closed_from = week_start + timedelta(minutes=lo)
                closed_to = week_start + timedelta(minutes=hi)
                overlap = min(end, closed_to) - max(start, closed_from)
                total += max(overlap.total_seconds(), 0.0)
            week_start += WEEK
    for closed_from, closed_to in closed_date_spans(cal):  # already outside the weekly spans
        if closed_from >= end:
            break
        overlap = min(end, closed_to) - max(start, closed_from)
        total += max(overlap.total_seconds(), 0.0)
    return total
