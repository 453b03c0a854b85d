"""Session calendars: a market closed at weekends is not silent then; an open-hours silence still is."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from kimera.schema import EXCHANGE_OHLCV
from pipelines.features.expectations import report_gaps
from pipelines.features.sessions import closed_seconds
from pipelines.warehouse import ensure_raw_schema, replace_window
from tests.support.config import config_with

FRIDAY_20H = datetime(2026, 1, 9, 20)
MONDAY_2H = datetime(2026, 1, 12, 2)


def test_closed_time_of_each_calendar():
    assert closed_seconds(FRIDAY_20H, MONDAY_2H, "24/7") == 0
    assert closed_seconds(FRIDAY_20H, MONDAY_2H, "weekdays") == 48 * 3600
    assert closed_seconds(FRIDAY_20H, MONDAY_2H, "fx") == 48 * 3600  # Friday 22:00 to Sunday 22:00
    assert closed_seconds(datetime(2026, 1, 10, 12), datetime(2026, 1, 10, 13), "weekdays") == 3600
    two_weeks = closed_seconds(datetime(2026, 1, 5), datetime(2026, 1, 19), "weekdays")
    assert two_weeks == 2 * 48 * 3600


def _weekday_candles(
    start: datetime, end: datetime, hole: tuple[datetime, datetime] | None = None
) -> pa.Table:
    rows, t = [], start
    while t < end:
        if t.weekday() < 5 and not (hole and hole[0] <= t < hole[1]):
            rows.append({"venue": "oanda", "symbol": "EUR/USD", "timeframe": "1h", "open_time": t,
                         "open": 1.1, "high": 1.1, "low": 1.1, "close": 1.1, "volume": 1.0})  # fmt: skip
        t += timedelta(hours=1)
    return pa.Table.from_pylist(rows, schema=EXCHANGE_OHLCV.schema)


@pytest.mark.parametrize("hole", [None, (datetime(2026, 1, 7, 3), datetime(2026, 1, 7, 6))])
def test_weekend_closes_are_not_gaps_and_open_hour_silences_are(tmp_path: Path, hole):
    config = config_with(assets=[{"symbol": "EUR", "quote": "USD", "sessions": "weekdays"}])
    window = (datetime(2026, 1, 5), datetime(2026, 1, 19))
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_raw_schema(con, [EXCHANGE_OHLCV])
        replace_window(
            con, EXCHANGE_OHLCV, *window, _weekday_candles(*window, hole), scope={"venue": ["oanda"]}
        )
        max_gap = timedelta(minutes=15)
        sessions = {a.symbol: a.sessions for a in config.assets}
        with_calendar = report_gaps(con, "exchange_ohlcv", window, max_gap, sessions)
        around_the_clock = report_gaps(con, "exchange_ohlcv", window, max_gap)
    assert not around_the_clock.passed  # as 24/7, each weekend is a 48-hour silence
    if hole is None:
        assert with_calendar.passed, with_calendar.summary()
    else:
        assert not with_calendar.passed
        assert with_calendar.failures[0].unexpected_count == 1  # the 3 quiet hours on Wednesday, only
