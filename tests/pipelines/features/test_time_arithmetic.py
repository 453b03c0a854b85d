"""Time arithmetic in the warehouse, over any timestamp and any bar length (property tests).

Integer overflows in SQL interval arithmetic (an hour in microseconds does not fit INT32) showed up
only when a user chose another timeframe. These properties draw timestamps from 1970 to 2200 and
every timeframe the config accepts, and compare the SQL the checks and dbt run with exact Python
integers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimera.config import TIMEFRAME_SECONDS
from kimera.schema import EXCHANGE_OHLCV
from pipelines.features.expectations import load_rows
from pipelines.features.project import DBT_PROJECT_DIR
from pipelines.warehouse import ensure_raw_schema

EPOCH = datetime(1970, 1, 1)
moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1))
timeframes = st.sampled_from(sorted(TIMEFRAME_SECONDS))


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    ensure_raw_schema(con, [EXCHANGE_OHLCV])
    yield con
    con.close()


def _candle(open_time: datetime, timeframe: str) -> pa.Table:
    row = {
        "venue": "binance", "symbol": "BTC/USDT", "timeframe": timeframe, "open_time": open_time,
        "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 0.0,
    }  # fmt: skip
    return pa.Table.from_pylist([row], schema=EXCHANGE_OHLCV.schema)


@settings(max_examples=100, deadline=None)
@given(moment=moments, timeframe=timeframes)
def test_the_candle_checks_place_any_candle_on_its_grid_and_window(con, moment, timeframe):
    """The quality suite's derived columns: offset from the timeframe's grid, and the whole candle
    inside a window that ends at its close."""
    con.execute("DELETE FROM raw.exchange_ohlcv")
    con.register("candle", _candle(moment, timeframe))
    con.execute("INSERT INTO raw.exchange_ohlcv SELECT * FROM candle")
    step_us = TIMEFRAME_SECONDS[timeframe] * 1_000_000
    frame = load_rows(con, EXCHANGE_OHLCV, (moment, moment + timedelta(seconds=TIMEFRAME_SECONDS[timeframe])))
    assert len(frame) == 1
    assert frame["grid_offset_s"][0] == (_micros(moment) % step_us) / 1e6
    assert bool(frame["inside_window"][0])


def _bar_close_sql(column: str, bar_seconds: int) -> str:
    """dbt's ``bar_close`` macro (dbt_project/macros/bars.sql) as dbt renders it for ``bar_seconds``."""
    text = (DBT_PROJECT_DIR / "macros" / "bars.sql").read_text()
    body = re.search(r"macro bar_close\(ts\) -%}\s*(.*?)\s*{%- endmacro", text, re.S).group(1)
    body = body.replace("{{ bar_seconds() * 1000000 }}", str(bar_seconds * 1_000_000))
    return body.replace("{{ ts }}", column)


@settings(max_examples=200, deadline=None)
@given(moment=moments, timeframe=timeframes)
def test_dbt_stamps_any_moment_with_the_close_of_its_bar(moment, timeframe):
    bar_us = TIMEFRAME_SECONDS[timeframe] * 1_000_000
    with duckdb.connect() as db:
        got = db.execute(f"SELECT {_bar_close_sql('?::TIMESTAMP', TIMEFRAME_SECONDS[timeframe])}", [moment])
        close = got.fetchone()[0]
    expected = EPOCH + timedelta(microseconds=(_micros(moment) // bar_us + 1) * bar_us)
    assert close == expected
    assert timedelta(0) < close - moment <= timedelta(microseconds=bar_us)
