"""Your own data from a fresh home to a backtest, through the `kimera` console script: import a
candle dump, build features, train, backtest on the candles (no book anywhere)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.app.test_own_data_commands import _hourly_dump, own_home  # noqa: F401  (the fixture)
from tests.conftest import REPO_ROOT
from tests.pipelines.features.conftest import dbt_manifest  # noqa: F401  (the code location needs it)


def _kimera(*args: str) -> str:
    """Run the installed console script (the venv's `kimera`, this checkout's code) and return its output."""
    script = Path(sys.executable).with_name("kimera")
    command = [str(script), *args] if script.exists() else [sys.executable, "-m", "kimera", *args]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"kimera {' '.join(args)} failed:\n{output}"
    return output


@pytest.mark.slow
def test_import_features_train_then_backtest_on_candles_alone(own_home, tmp_path, dbt_manifest):  # noqa: F811
    dump = _hourly_dump(tmp_path)

    imported = _kimera("import", str(dump), "--venue", "binance", "--symbol", "BTC/USDT")
    assert "imported 720 rows of BTC/USDT for [2026-01-01 00:00, 2026-01-31 00:00) UTC" in imported

    features = _kimera("features")
    assert "marts.features 720 rows (1 assets" in features and "Next: kimera train" in features

    # trained on the bars before 2026-01-21, backtested after them: out of sample
    trained = _kimera("train", "--day", "2026-01-20")
    assert "train: partition 2026-01-20" in trained and "ensemble" in trained and "accuracy" in trained

    backtest = _kimera("backtest", "--from", "2026-01-21", "--to", "2026-01-31")
    assert "no model promoted yet: backtesting the newest trained, kimera-ensemble:" in backtest
    assert "total return" in backtest and "Sharpe" in backtest
    assert "fill model per venue: binance candles" in backtest
    with duckdb.connect(str(own_home.warehouse_path), read_only=True) as con:
        (fills,) = con.execute("select count(*) from ml.backtest_fills").fetchone()
        outside = con.execute(
            """
            select f.order_id, f.ts, f.price, c.low, c.high
            from ml.backtest_fills f
            left join raw.exchange_ohlcv c
              on c.venue = f.venue and c.symbol = f.symbol and c.open_time = date_trunc('hour', f.ts)
            where c.open_time is null or f.price < c.low or f.price > c.high
            """
        ).fetchall()
        (decided_at_fill,) = con.execute(
            """
            select count(*) from ml.backtest_fills f join ml.backtest_orders o using (run_id, order_id)
            where f.ts < o.arrive_at or f.ts <= o.decided_at
            """
        ).fetchone()
        (config,) = con.execute("select config from ml.backtests").fetchone()
    assert fills > 0, backtest
    assert outside == []  # every fill on the candle it happened in, inside its [low, high]
    assert decided_at_fill == 0  # never before the order reached the venue
    assert '"fill_models": {"binance": "candles"}' in config


def test_the_train_summary_prints_missing_oracle_scores_as_n_a():
    """On a year of imported random-walk candles the oracle's realised hit rate was 0.4875, so its
    recovery is NULL; `kimera train` failed formatting None after the whole training run."""
    from kimera.app.demo.train import _oracle_phrase

    phrase = _oracle_phrase((0.5406, 0.4875, None, None, -0.0352))
    assert phrase == "  Bayes A* 0.5406 (oracle hit 0.4875)  recovery n/a ± n/a (calls -0.04)"
