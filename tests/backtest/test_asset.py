"""``ml/backtest`` in Dagster: the subprocess runs, its figures become the materialisation's metadata."""

from __future__ import annotations

import duckdb
import pytest
from dagster import materialize

from pipelines.backtest.assets import backtest_asset

pytestmark = pytest.mark.slow


def test_the_asset_runs_the_backtest_and_shows_its_figures(bt_home, bt_window):
    start, end = bt_window
    window = {"start": f"{start:%Y-%m-%d %H:%M}", "end": f"{end:%Y-%m-%d %H:%M}", "seed": 3,
              "config_file": str(bt_home.home_dir / "kimera.yaml")}  # fmt: skip
    result = materialize([backtest_asset], run_config={"ops": {"ml__backtest": {"config": window}}})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    run_id = meta["run_id"].value
    for name in ("total_return", "sharpe", "sortino", "max_drawdown", "turnover", "fees", "wf_sharpe"):
        assert name in meta
    with duckdb.connect(str(bt_home.warehouse_path), read_only=True) as con:
        orders = con.execute("select count(*) from ml.backtest_orders where run_id = ?", [run_id]).fetchone()[
            0
        ]
    assert orders == meta["orders"].value > 0


def test_a_failed_backtest_fails_the_step_with_its_message(bt_home, bt_window):
    start, _ = bt_window
    window = {"start": f"{start:%Y-%m-%d} 00:10", "end": f"{start:%Y-%m-%d} 06:00",
              "config_file": str(bt_home.home_dir / "kimera.yaml")}  # fmt: skip
    result = materialize(
        [backtest_asset], run_config={"ops": {"ml__backtest": {"config": window}}}, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "not on the 30m bar grid" in str(failure.event_specific_data.error)
