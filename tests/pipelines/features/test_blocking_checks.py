"""Bad raw data never reaches the features: the blocking quality checks stop the dbt build.

The features job checks the raw tables of its partition range (Great Expectations, blocking) and
then runs ``dbt build`` over it. A negative price, or a trade stored twice in a raw table that lost
its primary key (restored with CREATE TABLE AS, say), fails the check in the run; the dbt step
never starts, no feature is materialised, and marts.features keeps exactly its rows. The check's
metadata names the offending rows.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType

from tests.dbt.compare import read_table

FEATURES = AssetKey(["marts", "features"])
TRADES_QUALITY = ("raw/exchange_trades", "quality")


def check_results(instance, run_id: str) -> dict[tuple[str, str], object]:
    records = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    out = {}
    for record in records:
        evaluation = record.dagster_event.event_specific_data
        out[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation
    return out


def materialised(instance, run_id: str) -> set[AssetKey]:
    records = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    return {r.dagster_event.asset_key for r in records}


def started_steps(instance, run_id: str) -> set[str]:
    return {r.step_key for r in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)}


def features_table(home):
    return read_table(home.home_dir, "marts.features", ["asset", "bar_time"])


@pytest.mark.slow
def test_bad_raw_rows_fail_the_blocking_check_and_leave_the_features_as_they_were(
    run_features, instance, home, sim_window
):
    _, end = sim_window
    # The first run builds every model from all raw data; its checks cover its own range (the last day).
    good = run_features(end - timedelta(days=1), end)
    assert good.success, good.error
    checks = check_results(instance, good.run_id)
    assert checks[TRADES_QUALITY].passed
    assert checks[TRADES_QUALITY].metadata["rows_checked"].value > 10_000
    assert FEATURES in materialised(instance, good.run_id)
    before = features_table(home)
    assert len(before) > 0

    last_hour = (end - timedelta(hours=1), end)
    # 1. A negative price lands in raw (the table has no CHECK constraint; prices are data).
    with duckdb.connect(str(home.warehouse_path)) as con:
        venue, symbol, bad_id = con.execute(
            "select venue, symbol, trade_id from raw.exchange_trades where ts >= ? order by ts limit 1",
            [last_hour[0]],
        ).fetchall()[0]
        con.execute(
            "update raw.exchange_trades set price = -price where venue = ? and symbol = ? and trade_id = ?",
            [venue, symbol, bad_id],
        )
    blocked = run_features(*last_hour)
    assert not blocked.success
    evaluation = check_results(instance, blocked.run_id)[TRADES_QUALITY]
    assert not evaluation.passed
    offending = evaluation.metadata["offending_rows"].value
    assert "column=price" in offending and bad_id in offending
    assert blocked.failed_steps == ["raw__exchange_trades_quality"]
    assert "features_dbt" not in started_steps(instance, blocked.run_id)  # dbt never started
    assert FEATURES not in materialised(instance, blocked.run_id)
    assert features_table(home).equals(before)

    # 2. The price is fixed, but the table was restored without its primary key and a trade came twice.
    with duckdb.connect(str(home.warehouse_path)) as con:
        con.execute(
            "update raw.exchange_trades set price = -price where venue = ? and symbol = ? and trade_id = ?",
            [venue, symbol, bad_id],
        )
        con.execute("create table raw.trades_restored as select * from raw.exchange_trades")
        con.execute("drop table raw.exchange_trades")
        con.execute("alter table raw.trades_restored rename to exchange_trades")
        con.execute(
            "insert into raw.exchange_trades select * from raw.exchange_trades "
            "where venue = ? and symbol = ? and trade_id = ?",
            [venue, symbol, bad_id],
        )
    blocked = run_features(*last_hour)
    assert not blocked.success
    evaluation = check_results(instance, blocked.run_id)[TRADES_QUALITY]
    assert not evaluation.passed
    offending = evaluation.metadata["offending_rows"].value
    assert "expect_compound_columns_to_be_unique" in offending and bad_id in offending
    assert "features_dbt" not in started_steps(instance, blocked.run_id)
    assert FEATURES not in materialised(instance, blocked.run_id)
    assert features_table(home).equals(before)
