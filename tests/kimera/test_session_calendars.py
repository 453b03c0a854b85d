"""Session calendars tell a closed day from a data gap.

A weekend or an exchange holiday is closed: the bars either side of it are consecutive trading bars
and the silence is not a gap. A weekday the calendar says is open but that has no bar is a data gap:
the bars either side of it are two trading bars apart.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from kimera.config import ConfigError
from kimera.sessions import Calendar, closed_date_slots, session_calendar, trading_bar_index
from pipelines.features.sessions import closed_seconds
from tests.support.config import config_with

DAY_US = 86_400 * 1_000_000
HOUR_US = 3_600 * 1_000_000
THANKSGIVING = date(2025, 11, 27)  # a Thursday: the NYSE is closed


def _close_us(open_time: datetime, step_us: int) -> int:
    """A bar's close (its ``bar_time``) in µs since the epoch, from its open."""
    return (open_time - datetime(1970, 1, 1)) // timedelta(microseconds=1) + step_us


def _daily_index(days: list[date], calendar) -> list[int]:
    closes = np.array([_close_us(datetime(d.year, d.month, d.day), DAY_US) for d in days])
    return trading_bar_index(closes, DAY_US, calendar).tolist()


def test_nyse_closes_weekends_and_exchange_holidays_not_other_weekdays():
    nyse = session_calendar("nyse", start=date(2025, 1, 1))
    assert THANKSGIVING in nyse.closed_dates
    assert date(2025, 12, 25) in nyse.closed_dates and date(2026, 1, 1) in nyse.closed_dates
    assert date(2025, 11, 26) not in nyse.closed_dates  # the Wednesday before trades
    # Wednesday, (Thanksgiving), Friday, (weekend), Monday, (Tuesday missing), Wednesday
    days = [date(2025, 11, 26), date(2025, 11, 28), date(2025, 12, 1), date(2025, 12, 3)]
    steps = np.diff(_daily_index(days, nyse)).tolist()
    assert steps == [1, 1, 2]  # holiday and weekend are closed; the missing Tuesday is a gap
    # without the holidays, Thanksgiving is a missing weekday, i.e. a gap
    assert np.diff(_daily_index(days, "weekdays")).tolist() == [2, 1, 2]


def test_closed_dates_in_the_config_close_whole_days_of_intraday_bars():
    calendar = Calendar("weekdays", (date(2026, 1, 7),))  # a Wednesday
    tuesday_last = datetime(2026, 1, 6, 23)
    thursday_first = datetime(2026, 1, 8, 0)
    on_the_day = datetime(2026, 1, 7, 12)  # a bar a source stored on the closed day after all
    opens = [tuesday_last, on_the_day, thursday_first, thursday_first + timedelta(hours=2)]
    index = trading_bar_index(np.array([_close_us(t, HOUR_US) for t in opens]), HOUR_US, calendar)
    assert index[2] - index[0] == 1  # Tuesday 23:00 and Thursday 00:00 are consecutive bars
    assert index[1] == index[0]  # a bar inside closed time never looks like a next bar
    assert index[3] - index[2] == 2  # Thursday 01:00 missing: a gap
    assert closed_date_slots(calendar, HOUR_US) == [(_close_us(datetime(2026, 1, 7), 0), 24)]


def test_a_holiday_counts_as_closed_time_once():
    nyse = session_calendar("nyse", start=date(2025, 1, 1))
    wednesday_close, friday_open = datetime(2025, 11, 27), datetime(2025, 11, 28)
    assert closed_seconds(wednesday_close, friday_open, nyse) == 86_400
    assert closed_seconds(wednesday_close, friday_open, "weekdays") == 0
    # a closed date on a Saturday closes nothing the weekend did not: Friday's close to Monday
    saturday = Calendar("weekdays", (date(2026, 1, 10),))
    assert closed_seconds(datetime(2026, 1, 10), datetime(2026, 1, 12), saturday) == 2 * 86_400


def test_config_takes_closed_dates_and_names_a_bad_one():
    config = config_with(
        assets=[{"symbol": "SPY", "quote": "USD", "sessions": "weekdays", "closed_dates": ["2026-01-07"]}]
    )
    assert config.sessions["SPY"] == Calendar("weekdays", (date(2026, 1, 7),))
    with pytest.raises(ConfigError, match="closed_dates"):
        config_with(assets=[{"symbol": "SPY", "quote": "USD", "closed_dates": ["2026-13-01"]}])
    with pytest.raises(ConfigError, match="sessions"):
        config_with(assets=[{"symbol": "SPY", "quote": "USD", "sessions": "lse"}])
