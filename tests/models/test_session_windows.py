"""Windows of a market that closes are contiguous in trading bars, not wall-clock bars.

An FX-like hourly series (closed Friday 22:00 to Sunday 22:00): a window over Friday's last bars
and Sunday's first is a sequence of trading bars and is kept; an hour missing inside a session
still breaks every window over it; and a label h trading bars ahead is only known once that bar is.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from kimera.sessions import session_calendar, trading_bar_index
from models.marts import align
from models.windows import make_windows

HOUR_US = 3_600_000_000
FRIDAY_CLOSE = pd.Timestamp(datetime(2026, 1, 9, 22))  # the last bar's close before the weekend
SUNDAY_FIRST = pd.Timestamp(datetime(2026, 1, 11, 23))  # the first bar's close after it
HOLE = pd.Timestamp(datetime(2026, 1, 14, 10))  # a Wednesday bar that never arrived


def _fx_bars(hole: bool) -> list[pd.Timestamp]:
    """Bar closes of two weeks of an FX market, open hours only."""
    closes, t = [], pd.Timestamp(datetime(2026, 1, 5, 1))
    while t <= pd.Timestamp(datetime(2026, 1, 17)):
        start = t - pd.Timedelta(hours=1)
        closed = (start.weekday() == 4 and start.hour >= 22) or start.weekday() == 5
        closed |= start.weekday() == 6 and start.hour < 22
        if not closed and not (hole and t == HOLE):
            closes.append(t)
        t += pd.Timedelta(hours=1)
    return closes


def _marts(closes: list[pd.Timestamp], calendar: str | None):
    n = len(closes)
    features = pd.DataFrame({"asset": "EUR", "bar_time": closes, "x": np.arange(n, dtype=float)})
    labels = pd.DataFrame({"asset": "EUR", "bar_time": closes, "fwd_ret_1": 0.001, "fwd_dir_1": 1})
    return align(features, labels, 1, sessions={"EUR": calendar} if calendar else None)


def test_windows_over_the_weekend_are_kept_for_a_market_that_closes() -> None:
    windows = make_windows(_marts(_fx_bars(hole=False), "fx"), seq_len=4)
    ends = pd.to_datetime(windows.bar_time)
    over_weekend = ends[(ends >= SUNDAY_FIRST) & (ends < SUNDAY_FIRST + pd.Timedelta(hours=3))]
    assert len(over_weekend) == 3  # ending at the 1st, 2nd and 3rd bar after the open
    first = int(np.flatnonzero(ends == SUNDAY_FIRST)[0])
    # the window ending at Sunday's first bar holds Friday's last three bars, in order
    assert windows.x[first, :, 0].tolist() == [
        float(i) for i in range(int(windows.x[first, -1, 0]) - 3, int(windows.x[first, -1, 0]) + 1)
    ]
    assert windows.dropped["gap"] == 0
    # the same bars read as a 24/7 market: the weekend is a 48-hour hole that drops those windows
    around_the_clock = make_windows(_marts(_fx_bars(hole=False), None), seq_len=4)
    assert len(around_the_clock) == len(windows) - 3
    assert around_the_clock.dropped["gap"] == 3


def test_a_missing_bar_inside_a_session_still_breaks_its_windows() -> None:
    windows = make_windows(_marts(_fx_bars(hole=True), "fx"), seq_len=4)
    ends = pd.to_datetime(windows.bar_time)
    after_hole = (ends > HOLE) & (ends < HOLE + pd.Timedelta(hours=4))
    assert not after_hole.any()  # the 3 bars after the hole cannot end a 4-bar window
    assert (ends == HOLE + pd.Timedelta(hours=4)).any()
    assert windows.dropped["gap"] == 3


def test_the_past_return_and_the_as_of_labels_count_trading_bars() -> None:
    marts = _marts(_fx_bars(hole=False), "fx")
    windows = make_windows(marts, seq_len=1)
    first = int(np.flatnonzero(pd.to_datetime(windows.bar_time) == SUNDAY_FIRST)[0])
    assert windows.past_ret[first] == pytest.approx(0.001)  # Friday's last label matured on Sunday
    # as of Saturday, Friday's last bar's label is not known: its next trading bar is Sunday's first
    known = marts.until(datetime(2026, 1, 10, 12)).frame.set_index("bar_time")["fwd_ret"]
    assert np.isnan(known[FRIDAY_CLOSE])
    assert known[FRIDAY_CLOSE - pd.Timedelta(hours=1)] == pytest.approx(0.001)


def test_trading_bars_are_one_apart_across_a_closed_session_and_bars_inside_it_never_follow() -> None:
    closes = np.array(
        [FRIDAY_CLOSE, SUNDAY_FIRST, pd.Timestamp(datetime(2026, 1, 10, 12))], dtype="datetime64[us]"
    ).astype(np.int64)
    index = trading_bar_index(closes, HOUR_US, "fx")
    assert index[1] - index[0] == 1
    assert index[2] == index[0]  # a bar inside the closed session is not a next bar
    daily = np.array([datetime(2026, 1, 10), datetime(2026, 1, 13)], dtype="datetime64[us]").astype(np.int64)
    assert np.diff(trading_bar_index(daily, 24 * HOUR_US, "weekdays")).tolist() == [1]  # Friday -> Monday
    with pytest.raises(ValueError, match="session calendar 'lunar' is not accepted"):
        trading_bar_index(closes, HOUR_US, "lunar")


def test_daily_windows_of_an_exchange_span_its_holidays_but_not_a_missing_day() -> None:
    """Daily stock bars in November 2025: Thanksgiving (Thursday 27th) is an NYSE holiday; Tuesday
    the 18th is an open day with no bar, a data gap."""
    days = pd.bdate_range("2025-11-03", "2025-12-05")
    holiday, missing = pd.Timestamp("2025-11-27"), pd.Timestamp("2025-11-18")
    closes = [d + pd.Timedelta(days=1) for d in days if d not in (holiday, missing)]  # bar_time = close
    n = len(closes)
    features = pd.DataFrame({"asset": "SPY", "bar_time": closes, "x": np.arange(n, dtype=float)})
    labels = pd.DataFrame({"asset": "SPY", "bar_time": closes, "fwd_ret_1": 0.001, "fwd_dir_1": 1})
    nyse = session_calendar("nyse", start=date(2025, 1, 1))
    windows = make_windows(align(features, labels, 1, sessions={"SPY": nyse}), seq_len=3)
    ends = set(pd.to_datetime(windows.bar_time))
    friday_after = pd.Timestamp("2025-11-29")  # the close of the Friday after Thanksgiving
    assert friday_after in ends  # Tuesday, Wednesday, Friday: three trading days in a row
    # the windows ending on the two bars after the missing Tuesday hold it: dropped as gaps
    assert pd.Timestamp("2025-11-20") not in ends and pd.Timestamp("2025-11-21") not in ends
    assert pd.Timestamp("2025-11-22") in ends
    assert windows.dropped["gap"] == 2
    # the same bars as a plain weekday market: Thanksgiving too is a gap
    weekdays = make_windows(align(features, labels, 1, sessions={"SPY": "weekdays"}), seq_len=3)
    assert friday_after not in set(pd.to_datetime(weekdays.bar_time))
    assert weekdays.dropped["gap"] == 4
