"""dbt's trailing windows and labels span an exchange holiday, but not a day of missing data.

Four months of daily candles of three stock-like series, built by dbt in one run. Each trades on
weekdays except the NYSE's holidays (Thanksgiving, Christmas, New Year, Martin Luther King and
Presidents' Day), and each misses one open weekday (a data gap). The same candles under three
calendars: ``nyse``, ``weekdays`` with the holidays as ``closed_dates``, and plain ``weekdays``.
With the holidays in the calendar a 20-bar window over a holiday is full and a label reaches over
it, while the missing day still NULLs the windows over it and leaves the label before it unknown,
and the gaps check flags that day alone. Without them every holiday is a gap.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from kimera.schema import EXCHANGE_OHLCV
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.expectations import report_gaps
from pipelines.features.families import prepare_raw_tables
from pipelines.features.project import dbt_vars
from pipelines.warehouse import ensure_raw_schema, replace_window
from tests.support.config import config_with

START, END = date(2025, 10, 1), date(2026, 3, 1)
HOLIDAYS = [date(2025, 11, 27), date(2025, 12, 25), date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16)]
MISSING = date(2026, 1, 7)  # a Wednesday the market was open, with no candle: a data gap
CALENDARS = {
    "SPY": {"sessions": "nyse"},
    "QQQ": {"sessions": "weekdays", "closed_dates": [d.isoformat() for d in HOLIDAYS]},
    "IWM": {"sessions": "weekdays"},  # the holidays are not in its calendar
}


def _trading_days() -> list[date]:
    days = [START + timedelta(days=i) for i in range((END - START).days)]
    return [d for d in days if d.weekday() < 5 and d not in HOLIDAYS and d != MISSING]


def _candles() -> pa.Table:
    rows = []
    for symbol in CALENDARS:
        for n, day in enumerate(_trading_days()):
            close = 100 * math.exp(0.01 * math.sin(n) + 0.001 * n)  # varies, so windows have a spread
            rows.append({"venue": "nyse", "symbol": f"{symbol}/USD", "timeframe": "1d",
                         "open_time": datetime(day.year, day.month, day.day), "open": close,
                         "high": close * 1.01, "low": close * 0.99, "close": close,
                         "volume": 1000.0 + 100 * (n % 7)})  # fmt: skip
    return pa.Table.from_pylist(rows, schema=EXCHANGE_OHLCV.schema)


def _bar(day: date) -> datetime:
    """The features row of ``day``'s candle: bar_time is the bar's close, the next midnight."""
    return datetime(day.year, day.month, day.day) + timedelta(days=1)


@pytest.mark.slow
def test_windows_span_a_holiday_without_nulls_and_a_missing_day_still_breaks_them(
    tmp_path: Path, dbt_manifest: Path
):
    config = config_with(
        start=START.isoformat(),
        assets=[{"symbol": s, "quote": "USD", **calendar} for s, calendar in CALENDARS.items()],
        exchange={
            "source": "file",
            "timeframe": "1d",
            "files": [{"path": "stocks.parquet", "venue": "nyse", "symbol": "SPY/USD"}],
        },
        features={
            "bar": "1d",
            "horizons": [1],
            "return_lags": [1, 20],
            "vol_window": 20,
            "zscore_window": 20,
        },
    )
    window = (datetime(2025, 10, 1), datetime(2026, 3, 1))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_raw_schema(con, [EXCHANGE_OHLCV])
        replace_window(con, EXCHANGE_OHLCV, *window, _candles(), scope={"venue": ["nyse"]})
        prepare_raw_tables(con)
        gaps = report_gaps(con, "exchange_ohlcv", window, timedelta(minutes=1), config.sessions)
    run = run_dbt(
        ["run", "--select", "+features", "+labels"], home=tmp_path, dbt_vars=dbt_vars(config), check=False
    )
    assert run.success, run.output[-3000:]

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select f.asset, f.bar_time, f.realized_vol, f.volume_z, f.ret_20, l.fwd_ret_1"
            " from marts.features f join marts.labels l using (asset, bar_time)"
        ).fetchall()
    vol = {(a, t): v for a, t, v, *_ in rows}
    label = {(a, t): r for a, t, *_, r in rows}
    days = _trading_days()
    after_thanksgiving, before_gap = date(2025, 11, 28), date(2026, 1, 6)
    for asset in ("SPY", "QQQ"):
        # the window of the Friday after Thanksgiving spans the holiday and is full
        assert vol[asset, _bar(after_thanksgiving)] is not None
        assert label[asset, _bar(date(2025, 11, 26))] is not None  # Wednesday's next bar is Friday
        # the bars whose 20-bar window holds the missing day have none; the 20th after it has one
        after_gap = [d for d in days if d > MISSING]
        assert all(vol[asset, _bar(d)] is None for d in after_gap[:19])
        assert vol[asset, _bar(after_gap[19])] is not None
        assert label[asset, _bar(before_gap)] is None  # its next bar never arrived
        # only the warm-up (19 bars) and the 19 after the gap lack a full window
        nulls = sum(vol[asset, _bar(d)] is None for d in days)
        assert nulls == 19 + 19, (asset, nulls)
    # a calendar without the holidays counts each as a missing day
    assert vol["IWM", _bar(after_thanksgiving)] is None
    assert label["IWM", _bar(date(2025, 11, 26))] is None
    assert sum(vol["IWM", _bar(d)] is None for d in days) > 2 * (19 + 19)

    # the gaps check: the missing Wednesday of every asset, each holiday of IWM, nothing else
    assert not gaps.passed
    # a silence runs from the open of the candle before to the open of the one after: the closed
    # or missing day is the one before the candle after
    flagged = {
        (r["symbol"], datetime.fromisoformat(str(r["silent_until"])).date() - timedelta(days=1))
        for f in gaps.failures
        for r in f.rows
    }
    assert sum(f.unexpected_count for f in gaps.failures) == len(flagged) == 2 + len(HOLIDAYS) + 1
    assert ("SPY/USD", MISSING) in flagged and ("QQQ/USD", MISSING) in flagged
    assert {d for s, d in flagged if s in ("SPY/USD", "QQQ/USD")} == {MISSING}
    assert {d for s, d in flagged if s == "IWM/USD"} == {*HOLIDAYS, MISSING}
