"""Incremental runs: a new partition, then late data, each equal to a full refresh; re-runs idempotent.

The warehouse is first built without the newest day of raw data; the day then arrives, and a run
with Dagster's window vars for it must leave every model exactly as a full build of all the data
(``built_home``). Running the same window again changes nothing. A correction to an earlier hour
inside the lookback is picked up by the next partition's run.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from kimera.schema import EXCHANGE_TRADES, PARTITIONED_TABLES
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.project import dbt_vars
from pipelines.features.sim_data import load_sim_window
from pipelines.warehouse import replace_window
from tests.dbt.compare import assert_same_rows, read_table
from tests.dbt.conftest import copy_home

# Every table an incremental run writes, with its key.
MODELS = {
    "intermediate.int_venue_bars_resampled": ["asset", "venue", "bar_time"],
    "intermediate.int_venue_trades_aggregated": ["asset", "venue", "bar_time"],
    "intermediate.int_order_books_consolidated": ["asset", "bar_time"],
    "intermediate.int_dex_bars_aggregated": ["asset", "bar_time"],
    "intermediate.int_chain_metrics_bucketed": ["chain", "bar_time"],
    "intermediate.int_token_flows_bucketed": ["asset", "bar_time"],
    "intermediate.int_bars_consolidated": ["asset", "bar_time"],
    "intermediate.int_indicators": ["asset", "bar_time"],
    "marts.features": ["asset", "bar_time"],
    "marts.labels": ["asset", "bar_time"],
}


def snapshot(home) -> dict:
    return {table: read_table(home, table, keys) for table, keys in MODELS.items()}


@pytest.mark.slow
def test_new_partition_then_late_data_equal_a_full_refresh_and_reruns_change_nothing(
    raw_home, built_home, sim_config, sim_window, tmp_path
):
    start, end = sim_window
    newest_day = end - timedelta(days=1)
    home = copy_home(raw_home, tmp_path / "incremental")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        for table in PARTITIONED_TABLES:
            con.execute(f'delete from {table.qualified} where "{table.time_column}" >= ?', [newest_day])
    run_dbt(["run"], home=home, dbt_vars=dbt_vars(sim_config))
    before = read_table(home, "marts.features", ["asset", "bar_time"])

    # The newest day arrives (as 24 hourly partitions would); one run over its window.
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        load_sim_window(con, sim_config, newest_day, end)
    window = dbt_vars(sim_config, (newest_day, end))
    run_dbt(["run"], home=home, dbt_vars=window)
    after = snapshot(home)
    full = snapshot(built_home)
    for table, keys in MODELS.items():
        assert_same_rows(after[table], full[table], keys, f"incremental {table}")
    # rows before the window's lookback were not rewritten, and the day's 24 bars per asset are new
    assert len(after["marts.features"]) == len(before) + 24 * len(sim_config.assets)

    # The same window again: idempotent.
    run_dbt(["run"], home=home, dbt_vars=window)
    again = snapshot(home)
    for table, keys in MODELS.items():
        assert_same_rows(again[table], after[table], keys, f"re-run {table}")

    # Late data: a venue corrects its trades of an hour inside the lookback (prices 1% higher).
    late_hour = newest_day - timedelta(hours=3)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        trades = con.sql(
            "select * from raw.exchange_trades where ts >= ? and ts < ? and venue = 'alpha'",
            params=[late_hour, late_hour + timedelta(hours=1)],
        ).to_arrow_table()
        corrected = trades.set_column(
            trades.schema.get_field_index("price"), "price", pc.multiply(trades["price"], pa.scalar(1.01))
        )
        replace_window(
            con, EXCHANGE_TRADES, late_hour, late_hour + timedelta(hours=1), corrected, {"venue": ["alpha"]}
        )
        expected_vwap = con.execute(
            "select symbol, sum(price * amount) / sum(amount) from raw.exchange_trades "
            "where ts >= ? and ts < ? and venue = 'alpha' group by symbol order by symbol",
            [late_hour, late_hour + timedelta(hours=1)],
        ).fetchall()
    # the next partition's run (the last hour) reaches back over the lookback
    run_dbt(["run"], home=home, dbt_vars=dbt_vars(sim_config, (end - timedelta(hours=1), end)))
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        vwap = con.execute(
            "select asset || '/USDT', vwap from intermediate.int_venue_trades_aggregated "
            "where venue = 'alpha' and bar_time = ? order by asset",
            [late_hour + timedelta(hours=1)],
        ).fetchall()
    assert [s for s, _ in vwap] == [s for s, _ in expected_vwap]
    for (_, got), (_, want) in zip(vwap, expected_vwap, strict=True):
        assert got == pytest.approx(want, rel=1e-12)
    original = full["intermediate.int_venue_trades_aggregated"]
    old = original[(original.venue == "alpha") & (original.bar_time == late_hour + timedelta(hours=1))]
    assert old.vwap.to_numpy() * 1.01 == pytest.approx([v for _, v in vwap], rel=1e-9)


def scale_candles(home, hour_start, factor: float) -> None:
    """A venue restates its candles of one hour (prices times ``factor``), as a corrected dump would."""
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(
            "update raw.exchange_ohlcv set open = open * $f, high = high * $f, low = low * $f, close = close * $f "
            "where venue = 'alpha' and open_time >= $s and open_time < $s + interval 1 hour",
            {"f": factor, "s": hour_start},
        )


@pytest.mark.slow
def test_rerunning_an_old_partition_updates_every_later_bar_as_a_full_refresh_would(
    built_home, sim_config, sim_window, tmp_path
):
    start, _ = sim_window
    old_hour = start + timedelta(days=3)
    rerun = copy_home(built_home, tmp_path / "rerun")
    refreshed = copy_home(built_home, tmp_path / "refreshed")
    for home in (rerun, refreshed):
        scale_candles(home, old_hour, 1.02)
    # the partition of that hour only: its lookback, and every bar after it whose indicators,
    # trailing windows or labels the restated hour reaches
    run_dbt(["run"], home=rerun, dbt_vars=dbt_vars(sim_config, (old_hour, old_hour + timedelta(hours=1))))
    run_dbt(["run", "--full-refresh"], home=refreshed, dbt_vars=dbt_vars(sim_config))
    for table, keys in MODELS.items():
        assert_same_rows(
            read_table(rerun, table, keys), read_table(refreshed, table, keys), keys, f"re-run {table}"
        )
    # not vacuous: a week later the RSI (a recursion over every bar) still carries the restatement
    later = f"bar_time = '{(old_hour + timedelta(days=5)).isoformat()}'"
    before = read_table(built_home, "intermediate.int_indicators", ["asset", "bar_time"], later)
    after = read_table(rerun, "intermediate.int_indicators", ["asset", "bar_time"], later)
    assert (before.rsi - after.rsi).abs().max() > 1e-9
