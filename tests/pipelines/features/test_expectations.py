"""The Great Expectations suites on raw tables: each rule catches its kind of bad row and names it.

One hour of simulated raw data is copied into a small warehouse whose tables have no constraints
(as a restored dump would), then spoiled one way per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from kimera.schema import PARTITIONED_TABLES, REFERENCE_TABLES
from pipelines.features.expectations import report_gaps, validate_raw


@pytest.fixture(scope="module")
def hour(sim_window) -> tuple[datetime, datetime]:
    start = sim_window[0] + timedelta(days=2, hours=5)
    return start, start + timedelta(hours=1)


@pytest.fixture
def con(raw_home: Path, hour, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(tmp_path / "hour.duckdb"))
    con.execute(f"attach '{raw_home / 'warehouse.duckdb'}' as src (read_only)")
    con.execute("create schema raw")
    for table in PARTITIONED_TABLES:
        con.execute(
            f"create table {table.qualified} as select * from src.{table.qualified} "
            f'where "{table.time_column}" >= ? and "{table.time_column}" < ?',
            list(hour),
        )
    for table in REFERENCE_TABLES:
        con.execute(f"create table {table.qualified} as select * from src.{table.qualified}")
    con.execute("detach src")
    try:
        yield con
    finally:
        con.close()


def failed(result) -> dict[str, int]:
    return {f.expectation.split("(")[0]: f.unexpected_count for f in result.failures}


def test_every_raw_table_of_the_simulator_meets_its_suite(con, hour):
    for table in [*PARTITIONED_TABLES, *REFERENCE_TABLES]:
        result = validate_raw(con, table.name, hour)
        assert result.passed, result.summary()
        assert result.row_count > 0 or not table.simulated  # e.g. V3 tick ranges: the simulated pools are V2


def test_negative_nan_and_infinite_prices_are_named_with_their_keys(con, hour):
    keys = con.execute(
        "select venue, symbol, trade_id from raw.exchange_trades order by ts limit 3"
    ).fetchall()
    for key, price in zip(keys, ["-1", "'nan'", "'inf'"], strict=True):
        con.execute(
            f"update raw.exchange_trades set price = {price}::double where venue = ? and symbol = ? and trade_id = ?",
            list(key),
        )
    result = validate_raw(con, "exchange_trades", hour)
    by_rule = {f.expectation.split("(")[0]: f for f in result.failures}
    out_of_range = by_rule["expect_column_values_to_be_between"]
    assert {(r["venue"], r["symbol"], r["trade_id"]) for r in out_of_range.rows} == {keys[0], keys[2]}
    missing = by_rule["expect_column_values_to_not_be_null"]  # NaN is not a price
    assert [(r["venue"], r["symbol"], r["trade_id"]) for r in missing.rows] == [keys[1]]
    assert keys[0][2] in result.markdown()


def test_a_duplicated_key_fails_uniqueness(con, hour):
    con.execute("insert into raw.exchange_trades select * from raw.exchange_trades limit 1")
    assert failed(validate_raw(con, "exchange_trades", hour)) == {"expect_compound_columns_to_be_unique": 2}


def test_inconsistent_candles_are_caught(con, hour):
    first = con.execute("select min(open_time) from raw.exchange_ohlcv").fetchall()[0][0]
    con.execute(
        "update raw.exchange_ohlcv set high = low - 1 where open_time = ? and venue = 'alpha'", [first]
    )
    con.execute(
        "update raw.exchange_ohlcv set open_time = open_time + interval 7 second "
        "where open_time = ? and venue = 'bravo'",
        [first],
    )
    result = failed(validate_raw(con, "exchange_ohlcv", hour))
    assert result["expect_column_pair_values_a_to_be_greater_than_b"] >= 2  # high >= open, high >= close
    assert result["expect_column_values_to_be_between"] >= 1  # off the minute grid


def test_a_block_whose_time_goes_back_is_out_of_order(con, hour):
    con.execute(
        "update raw.chain_blocks set ts = ts - interval 60 second "
        "where block_number = (select min(block_number) + 10 from raw.chain_blocks)"
    )
    result = validate_raw(con, "chain_blocks", hour)
    (broken,) = result.failures
    assert "time_step_s" in broken.expectation
    assert broken.unexpected_count == 1  # the block after it steps forward again


def test_a_crossed_order_book_is_caught(con, hour):
    con.execute(
        "update raw.order_book_snapshots set price = price * 1.01 where side = 'bid' and level = 0 "
        "and ts = (select min(ts) from raw.order_book_snapshots) and venue = 'alpha' and symbol = 'BTC/USDT'"
    )
    result = validate_raw(con, "order_book_snapshots", hour)
    crossed = next(f for f in result.failures if "book_crossed" in f.expectation)
    assert crossed.unexpected_count == 20  # every level row of that snapshot


def test_silences_longer_than_the_threshold_are_reported(con, hour):
    start, _ = hour
    con.execute(
        "delete from raw.exchange_ohlcv where venue = 'charlie' and symbol = 'ETH/USDT' and open_time >= ? "
        "and open_time < ?",
        [start + timedelta(minutes=10), start + timedelta(minutes=40)],
    )
    result = report_gaps(con, "exchange_ohlcv", hour, timedelta(minutes=15))
    assert not result.passed
    (gap,) = result.failures[0].rows
    assert (gap["venue"], gap["symbol"]) == ("charlie", "ETH/USDT")
    assert gap["silence_minutes"] == pytest.approx(30)  # 30 missing candles: from the 09 close to the 40 open
    assert report_gaps(con, "exchange_ohlcv", hour, timedelta(minutes=45)).passed
