"""Labels of a market that closes count trading bars: Friday's last bar's 1-bar label is Monday's first.

A 1h weekday market (closed Saturday and Sunday) is built with dbt from candles whose log close rises
by exactly 0.001 per stored candle, so every label over ``h`` consecutive trading bars is ``h/1000``.
A missing hour inside a session is still missing: labels that would reach over it are NULL, never
widened to a later bar.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from kimera.schema import EXCHANGE_OHLCV
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.families import prepare_raw_tables
from pipelines.features.project import dbt_vars
from pipelines.warehouse import ensure_raw_schema, replace_window
from tests.support.config import config_with

START, END = datetime(2026, 1, 5), datetime(2026, 1, 24)  # Monday to the third Saturday
HOLE = (datetime(2026, 1, 14, 3), datetime(2026, 1, 14, 6))  # Wednesday 03:00-06:00: no candles


def _candles() -> pa.Table:
    rows, t, n = [], START, 0
    while t < END:
        if t.weekday() < 5 and not HOLE[0] <= t < HOLE[1]:
            close = 1.1 * math.exp(0.001 * n)
            rows.append({"venue": "oanda", "symbol": "EUR/USD", "timeframe": "1h", "open_time": t,
                         "open": close, "high": close, "low": close, "close": close, "volume": 1.0})  # fmt: skip
            n += 1
        t += timedelta(hours=1)
    return pa.Table.from_pylist(rows, schema=EXCHANGE_OHLCV.schema)


@pytest.mark.slow
def test_labels_of_a_weekday_market_reach_over_the_weekend_but_not_over_a_missing_hour(
    tmp_path: Path, dbt_manifest: Path
):
    config = config_with(
        assets=[{"symbol": "EUR", "quote": "USD", "sessions": "weekdays"}],
        exchange={"source": "sim", "timeframe": "1h"},
        features={"bar": "1h", "horizons": [1, 3]},
    )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_raw_schema(con, [EXCHANGE_OHLCV])
        replace_window(con, EXCHANGE_OHLCV, START, END, _candles(), scope={"venue": ["oanda"]})
        prepare_raw_tables(con)
    run = run_dbt(["run", "--select", "+labels"], home=tmp_path, dbt_vars=dbt_vars(config), check=False)
    assert run.success, run.output[-3000:]

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        labels = {
            t: (r1, r3)
            for t, r1, r3 in con.execute(
                "select bar_time, fwd_ret_1, fwd_ret_3 from marts.labels where asset = 'EUR' order by bar_time"
            ).fetchall()
        }
    friday_last = datetime(2026, 1, 10)  # the bar of Friday 23:00, stamped with its close
    assert labels[friday_last][0] == pytest.approx(0.001)  # Monday 00:00-01:00 is the next bar
    assert labels[friday_last - timedelta(hours=1)][1] == pytest.approx(0.003)  # 2 on Friday, 1 on Monday
    # the hour before the hole: its next bar is missing, so its label is unknown (not the bar after)
    before_hole = HOLE[0]  # the bar 02:00-03:00, closing at 03:00
    assert labels[before_hole] == (None, None)
    assert labels[before_hole - timedelta(hours=1)][0] == pytest.approx(0.001)
    assert labels[HOLE[1] + timedelta(hours=1)][0] == pytest.approx(0.001)  # after the hole: as before
    known = [r1 for r1, _ in labels.values() if r1 is not None]
    assert all(r == pytest.approx(0.001) for r in known)
    # every bar but the last one and the one before the hole has a 1-bar label
    assert len(known) == len(labels) - 2
