"""Landed files load into DuckDB exactly once: by the loader, and through the Dagster sensor and job."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
import pytest
from dagster import DagsterInstance, Definitions, build_sensor_context
from dagster_duckdb import DuckDBResource

from kimera.schema import EXCHANGE_TRADES, ORDER_BOOK_SNAPSHOTS
from kimera.settings import Settings
from pipelines.landing.definitions import defs
from pipelines.landing.files import land, loaded, pending, read_landed
from pipelines.landing.load import load_pending
from pipelines.landing.sensors import landing_sensor
from pipelines.sources.rows import table_from_records

T0 = datetime(2026, 3, 1, 12)


def _trades(first_id: int, count: int, venue: str = "binance") -> pa.Table:
    return table_from_records(
        EXCHANGE_TRADES,
        [
            {"venue": venue, "symbol": "BTC/USDT", "trade_id": str(first_id + i), "ts": T0 + timedelta(seconds=first_id + i),
             "side": "buy" if i % 2 else "sell", "price": 30_000.0 + i, "amount": 0.01 * (i + 1)}
            for i in range(count)
        ],
    )  # fmt: skip


def _count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]


def test_each_landed_file_is_loaded_exactly_once(kimera_home: Settings, tmp_path) -> None:
    landing = kimera_home.landing_dir
    land(landing, EXCHANGE_TRADES, "binance", _trades(0, 10))
    land(landing, EXCHANGE_TRADES, "binance", _trades(5, 10))  # overlaps: trades 5..9 arrive twice
    con = duckdb.connect(str(tmp_path / "w.duckdb"))

    report = load_pending(con, landing)
    assert (report.files, report.rows) == (2, {"exchange_trades": 20})
    assert _count(con, "exchange_trades") == 15  # by natural key: no trade twice
    assert pending(landing) == [] and len(loaded(landing)) == 2
    assert _count(con, "landed_files") == 2

    again = load_pending(con, landing)
    assert (again.files, again.skipped) == (0, 0) and _count(con, "exchange_trades") == 15


def test_a_crash_between_commit_and_move_does_not_load_twice(kimera_home: Settings, tmp_path) -> None:
    landing = kimera_home.landing_dir
    landed = land(landing, EXCHANGE_TRADES, "binance", _trades(0, 4))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_pending(con, landing)
    con.execute("UPDATE raw.exchange_trades SET price = -1")  # a later correction must survive
    shutil.copy(loaded(landing)[0].path, landed.path)  # as if the move had never happened
    report = load_pending(con, landing)
    assert (report.files, report.skipped) == (0, 1)
    assert con.execute("SELECT DISTINCT price FROM raw.exchange_trades").fetchall() == [(-1.0,)]
    assert pending(landing) == []


def test_a_file_with_duplicate_keys_is_refused_and_stays_pending(kimera_home: Settings, tmp_path) -> None:
    landing = kimera_home.landing_dir
    rows = _trades(0, 3)
    land(landing, EXCHANGE_TRADES, "binance", pa.concat_tables([rows, rows.slice(0, 1)]))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(ValueError, match="duplicate natural key"):
        load_pending(con, landing)
    assert _count(con, "exchange_trades") == 0 and len(pending(landing)) == 1


def test_landed_rows_are_readable_by_window_and_venue(kimera_home: Settings) -> None:
    landing = kimera_home.landing_dir
    land(landing, EXCHANGE_TRADES, "binance", _trades(0, 100))
    land(landing, EXCHANGE_TRADES, "kraken", _trades(0, 100, venue="kraken"))
    window = read_landed(
        landing, EXCHANGE_TRADES, ["binance"], T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)
    )
    assert sorted(int(x) for x in window.column("trade_id").to_pylist()) == list(range(10, 20))
    assert read_landed(landing, ORDER_BOOK_SNAPSHOTS, ["binance"], T0, T0 + timedelta(hours=1)).num_rows == 0


def test_the_sensor_requests_one_run_per_new_batch_and_the_job_loads_it(kimera_home: Settings) -> None:
    landing = kimera_home.landing_dir
    instance = DagsterInstance.ephemeral()
    with build_sensor_context(instance=instance) as context:
        assert landing_sensor(context).__class__.__name__ == "SkipReason"

    land(landing, EXCHANGE_TRADES, "binance", _trades(0, 5))
    newest = land(landing, EXCHANGE_TRADES, "binance", _trades(5, 5))
    with build_sensor_context(instance=instance) as context:
        request = landing_sensor(context)
        assert request.run_key == f"landed:{newest.key}"
        cursor = context.cursor
    with build_sensor_context(instance=instance, cursor=cursor) as context:
        assert landing_sensor(context).__class__.__name__ == "SkipReason"  # requested already

    bound = Definitions.merge(
        defs, Definitions(resources={"warehouse": DuckDBResource(database=str(kimera_home.warehouse_path))})
    )
    result = bound.get_job_def("load_landed_job").execute_in_process(
        run_config=request.run_config, instance=instance
    )
    assert result.success
    with duckdb.connect(str(kimera_home.warehouse_path), read_only=True) as con:
        assert _count(con, "exchange_trades") == 10
    assert pending(landing) == []
