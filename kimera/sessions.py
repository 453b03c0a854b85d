"""Session calendars and trading-bar positions, shared by the raw gaps check, the dbt marts and the models.

Crypto trades around the clock; FX and equities close at weekends, and exchanges close on holidays.
A calendar is a weekly pattern (a list of weekly closed spans, in minutes from Monday 00:00 UTC) plus
a list of closed dates (whole UTC days: an exchange's holidays, ``nyse``, and any the config names).
A bar slot is a *trading bar* unless it lies wholly inside closed time, so a window or a label
horizon of ``k`` bars counts trading bars: Friday's last bar is followed by Monday's first, the bar
before Thanksgiving by the one after it, while a bar missing on an open day is still a missing bar
(a data gap: it shortens a window, leaves a label NULL and is flagged by the gaps check).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

WEEKDAYS = ((5 * 1440, 7 * 1440),)  # Saturday 00:00 to Monday 00:00

CALENDARS: dict[str, tuple[tuple[int, int], ...]] = {
    "24/7": (),
    "weekdays": WEEKDAYS,
    "fx": ((4 * 1440 + 22 * 60, 6 * 1440 + 22 * 60),),  # Friday 22:00 to Sunday 22:00
    "nyse": WEEKDAYS,  # and the NYSE's holidays (EXCHANGE_HOLIDAYS)
}

# calendars with an exchange's holidays: the market code of holidays.financial_holidays
EXCHANGE_HOLIDAYS = {"nyse": "NYSE"}
# an exchange's holidays are taken for these years around the config's start (dbt and the models
# use the same list; a holiday outside it would count as a data gap)
HOLIDAY_YEARS_BEFORE, HOLIDAY_YEARS_AFTER = 20, 30

WEEK_US = 7 * 86_400 * 1_000_000
DAY_US = 86_400 * 1_000_000
# the Unix epoch is a Thursday: the first Monday 00:00 UTC after it, in microseconds
MONDAY_US = 4 * 86_400 * 1_000_000
EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Calendar:
    """When a market trades: a weekly pattern (a key of ``CALENDARS``) and closed dates (UTC days)."""

    weekly: str = "24/7"
    closed_dates: tuple[date, ...] = ()

    def __post_init__(self) -> None:
        if self.weekly not in CALENDARS:
            raise ValueError(
                f"session calendar {self.weekly!r} is not accepted: expected one of {sorted(CALENDARS)}"
            )

    @property
    def always_open(self) -> bool:
        """Whether every bar slot is a trading bar (24/7 without closed dates)."""
        return not CALENDARS[self.weekly] and not self.closed_dates


def session_calendar(weekly: str, closed_dates: Iterable[date] = (), start: date | None = None) -> Calendar:
    """The calendar ``weekly`` with ``closed_dates`` and, for an exchange calendar (``nyse``), the
    exchange's holidays of the years around ``start`` (HOLIDAY_YEARS_BEFORE/AFTER)."""
    dates = set(closed_dates)
    if weekly in EXCHANGE_HOLIDAYS:
        import holidays

        year = (start or date(2000, 1, 1)).year
        years = range(year - HOLIDAY_YEARS_BEFORE, year + HOLIDAY_YEARS_AFTER + 1)
        dates |= set(holidays.financial_holidays(EXCHANGE_HOLIDAYS[weekly], years=years))
    return Calendar(weekly, tuple(sorted(dates)))


def as_calendar(calendar: str | Calendar) -> Calendar:
    """A calendar from its weekly name (no closed dates) or itself."""
    return calendar if isinstance(calendar, Calendar) else Calendar(calendar)


def _weekly_closed(lo_min: int, hi_min: int, spans) -> list[tuple[int, int]]:
    """The parts of ``[lo_min, hi_min)`` (minutes from Monday) that the weekly spans leave open."""
    pieces = [(lo_min, hi_min)]
    for c_lo, c_hi in spans:
        pieces = [
            part
            for p_lo, p_hi in pieces
            for part in ((p_lo, min(p_hi, c_lo)), (max(p_lo, c_hi), p_hi))
            if part[1] > part[0]
        ]
    return pieces


def closed_date_spans(calendar: str | Calendar) -> list[tuple[datetime, datetime]]:
    """The open-by-the-week time that the calendar's closed dates close, as sorted naive-UTC spans
    (a holiday on a Saturday of a ``weekdays`` calendar closes nothing more)."""
    cal = as_calendar(calendar)
    spans = []
    for day in cal.closed_dates:
        midnight = datetime(day.year, day.month, day.day)
        monday = midnight - timedelta(days=day.weekday())
        lo = day.weekday() * 1440
        for p_lo, p_hi in _weekly_closed(lo, lo + 1440, CALENDARS[cal.weekly]):
            spans.append((monday + timedelta(minutes=p_lo), monday + timedelta(minutes=p_hi)))
    return spans


def closed_slots(calendar: str | Calendar, step_us: int) -> list[tuple[int, int]]:
    """The closed bar slots of a week, as inclusive ``(first, last)`` slot positions from Monday.

    Slot ``j`` is ``[j * step, (j + 1) * step)`` from Monday 00:00; it is closed when wholly inside a
    closed span. Raises ValueError when the bar does not divide a week into whole bars.
    """
    cal = as_calendar(calendar)
    if step_us <= 0 or WEEK_US % step_us:
        raise ValueError(
            f"a bar of {step_us} µs does not divide a week: session calendars need one that does"
        )
    slots = []
    for lo, hi in CALENDARS[cal.weekly]:
        first = -(-lo * 60_000_000 // step_us)  # ceil: the first slot starting at or after the close
        last = hi * 60_000_000 // step_us - 1  # the last slot ending at or before the open
        if last >= first:
            slots.append((first, last))
    return slots


def closed_date_slots(calendar: str | Calendar, step_us: int) -> list[tuple[int, int]]:
    """The bar slots that the closed dates close, as sorted ``(first slot start in µs since the
    epoch, number of slots)`` runs: the slots wholly inside each closed date's open-by-the-week time."""
    runs = []
    for lo, hi in closed_date_spans(calendar):
        lo_us = (lo - EPOCH) // timedelta(microseconds=1)
        hi_us = (hi - EPOCH) // timedelta(microseconds=1)
        first = -(-lo_us // step_us)
        last = hi_us // step_us - 1
        if last >= first:
            runs.append((first * step_us, last - first + 1))
    return runs


def trading_bar_index(close_us: np.ndarray, step_us: int, calendar: str | Calendar) -> np.ndarray:
    """The position of each bar (by its close, µs since the epoch) in the series of trading bars.

    Consecutive trading bars differ by exactly 1, across a closed session or a closed date too; for
    an always-open calendar it is the bar's close divided by the bar. A bar wholly inside closed time
    shares the index of the trading bar before it (so it never looks like a next bar). The same
    arithmetic runs in dbt (macro ``bar_index``).
    """
    close_us = np.asarray(close_us, dtype=np.int64)
    cal = as_calendar(calendar)
    slots = closed_slots(cal, step_us)
    if cal.always_open:
        return close_us // step_us
    per_week = WEEK_US // step_us
    open_per_week = per_week - sum(last - first + 1 for first, last in slots)
    slot_start = close_us - step_us
    week, pos = np.divmod(slot_start - MONDAY_US, WEEK_US)  # from the first Monday
    pos = pos // step_us
    closed = sum(np.clip(np.minimum(pos, last) - first + 1, 0, None) for first, last in slots)
    index = week * open_per_week + pos + 1 - closed
    runs = closed_date_slots(cal, step_us)
    if runs:
        firsts = np.array([f for f, _ in runs], dtype=np.int64)
        counts = np.array([c for _, c in runs], dtype=np.int64)
        before = np.concatenate([[0], np.cumsum(counts)])
        k = np.searchsorted(firsts, slot_start, side="right")  # runs starting at or before the slot
        partial = np.where(
            k > 0,
            np.minimum(
                (slot_start - firsts[np.maximum(k - 1, 0)]) // step_us + 1, counts[np.maximum(k - 1, 0)]
            ),
            0,
        )
        index = index - before[np.maximum(k - 1, 0)] - partial
    return index
