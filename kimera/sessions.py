"""Session calendars and trading-bar positions, shared by the dbt marts and the models.

Crypto trades around the clock; FX and equities close at weekends. A calendar is a list of weekly
closed spans, in minutes from Monday 00:00 UTC. A bar slot is a *trading bar* unless it lies wholly
inside a closed span, so a window or a label horizon of ``k`` bars counts trading bars: Friday's last
bar is followed by Monday's first, while a missing bar inside a session is still a missing bar.
"""

from __future__ import annotations

import numpy as np

CALENDARS: dict[str, tuple[tuple[int, int], ...]] = {
    "24/7": (),
    "weekdays": ((5 * 1440, 7 * 1440),),  # Saturday 00:00 to Monday 00:00
    "fx": ((4 * 1440 + 22 * 60, 6 * 1440 + 22 * 60),),  # Friday 22:00 to Sunday 22:00
}

WEEK_US = 7 * 86_400 * 1_000_000
# the Unix epoch is a Thursday: the first Monday 00:00 UTC after it, in microseconds
MONDAY_US = 4 * 86_400 * 1_000_000


def closed_slots(calendar: str, step_us: int) -> list[tuple[int, int]]:
    """The closed bar slots of a week, as inclusive ``(first, last)`` slot positions from Monday.

    Slot ``j`` is ``[j * step, (j + 1) * step)`` from Monday 00:00; it is closed when wholly inside a
    closed span. Raises ValueError when the bar does not divide a week into whole bars.
    """
    if calendar not in CALENDARS:
        raise ValueError(
            f"session calendar {calendar!r} is not accepted: expected one of {sorted(CALENDARS)}"
        )
    if step_us <= 0 or WEEK_US % step_us:
        raise ValueError(
            f"a bar of {step_us} µs does not divide a week: session calendars need one that does"
        )
    slots = []
    for lo, hi in CALENDARS[calendar]:
        first = -(-lo * 60_000_000 // step_us)  # ceil: the first slot starting at or after the close
        last = hi * 60_000_000 // step_us - 1  # the last slot ending at or before the open
        if last >= first:
            slots.append((first, last))
    return slots


def trading_bar_index(close_us: np.ndarray, step_us: int, calendar: str) -> np.ndarray:
    """The position of each bar (by its close, µs since the epoch) in the series of trading bars.

    Consecutive trading bars differ by exactly 1, across a closed session too; for ``24/7`` it is
    the bar's close divided by the bar. A bar wholly inside a closed span shares the index of the
    trading bar before it (so it never looks like a next bar). The same arithmetic runs in dbt
    (macro ``bar_index``).
    """
    close_us = np.asarray(close_us, dtype=np.int64)
    slots = closed_slots(calendar, step_us)
    if not slots:
        return close_us // step_us
    per_week = WEEK_US // step_us
    open_per_week = per_week - sum(last - first + 1 for first, last in slots)
    start = close_us - step_us - MONDAY_US  # the slot's start, from the first Monday
    week, pos = np.divmod(start, WEEK_US)
    pos = pos // step_us
    closed = sum(np.clip(np.minimum(pos, last) - first + 1, 0, None) for first, last in slots)
    return week * open_per_week + pos + 1 - closed
