"""Every candle timeframe, from the raw checks through the bar builder to the features.

Only the demo's 1m candles used to be built anywhere; an hourly import failed the quality check
with an INT32 overflow (3600 * 1000000). Each case imports a few days of simulated candles only
(no trades, books or chain: the most common data a user has), runs the blocking quality suite on
them, builds the dbt project, and checks the bars and returns against the raw candles.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from kimera.config import TIMEFRAME_SECONDS
from kimera.schema import EXCHANGE_OHLCV
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.expectations import validate_raw
from pipelines.features.families import family_presence, prepare_raw_tables
from pipelines.features.project import dbt_vars
from pipelines.sources import make_sources
from pipelines.warehouse import ensure_raw_schema, replace_window
from tests.support.config import config_with

# timeframe -> days of candles: enough bars for the warm-ups, few enough rows to build in seconds
CASES = {"1m": 2, "5m": 3, "15m": 4, "1h": 8, "4h": 20, "1d": 45}


@pytest.mark.slow
@pytest.mark.parametrize("timeframe", list(CASES))
def test_candles_of_every_timeframe_pass_the_checks_and_become_bars_and_returns(
    timeframe: str, tmp_path: Path, dbt_manifest: Path
):
    config = config_with(exchange={"source": "sim", "timeframe": timeframe}, features={"bar": timeframe})
    start = config.start_time
    end = start + timedelta(days=CASES[timeframe])
    sources = make_sources(config)
    venues = sources.exchange.venues()
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_raw_schema(con, [EXCHANGE_OHLCV])  # as `kimera import` leaves it: candles only
        written = replace_window(
            con, EXCHANGE_OHLCV, start, end, sources.exchange.ohlcv(start, end), scope={"venue": venues}
        )
        candles = len(venues) * len(config.assets) * CASES[timeframe] * 86_400 // TIMEFRAME_SECONDS[timeframe]
        assert written == candles

        check = validate_raw(con, "exchange_ohlcv", (start, end))
        assert check.passed, check.summary()
        assert check.row_count == candles

        created = prepare_raw_tables(con)
        assert "raw.exchange_trades" in created and "raw.exchange_ohlcv" not in created
        built = {p.family.name for p in family_presence(con) if p.present}
        assert built == {"technical", "cross_venue"}

    run = run_dbt(
        ["build", "--exclude-resource-type", "unit_test"],
        home=tmp_path,
        dbt_vars=dbt_vars(config),
        check=False,
    )
    assert run.success, run.output[-3000:]

    bar_s = TIMEFRAME_SECONDS[timeframe]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        per_asset = dict(
            con.execute(
                "select asset, count(*) from marts.features "
                f"where epoch(bar_time)::BIGINT % {bar_s} = 0 group by asset"
            ).fetchall()
        )
        assert per_asset == {a.symbol: CASES[timeframe] * 86_400 // bar_s for a in config.assets}
        # ret_1 is the log return of the venues' geometric-mean close, bar over bar
        expected = con.execute(
            f"""
            with last_close as (
                select split_part(symbol, '/', 1) as asset, venue,
                       time_bucket(interval '{bar_s} seconds', open_time) + interval '{bar_s} seconds' as bar_time,
                       arg_max(close, open_time) as close
                from raw.exchange_ohlcv group by all
            ), ref as (
                select asset, bar_time, avg(ln(close)) as log_close from last_close group by all
            )
            select asset, bar_time, log_close - lag(log_close) over (partition by asset order by bar_time)
            from ref order by all
            """
        ).fetchall()
        got = con.execute("select asset, bar_time, ret_1 from marts.features order by all").fetchall()
        assert [(a, t) for a, t, _ in got] == [(a, t) for a, t, _ in expected]
        for (_, _, mine), (_, _, theirs) in zip(got, expected, strict=True):
            assert (mine is None) == (theirs is None)
            if theirs is not None:
                assert math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-12)
        # the technical family is computed, the absent sources' columns are NULL, never invented
        technical, absent = con.execute(
            "select count(rsi), count(vwap_dev) + count(book_imbalance) + count(net_exchange_flow) "
            "from marts.features"
        ).fetchone()
        assert technical > 0 and absent == 0
