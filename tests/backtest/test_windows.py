"""The replay read in windows (``backtest.window_days``, on a ``backtest.memory_mb`` budget): the
same ml.backtest_* rows, byte for byte, as one window over the whole span, with windows that split
it several times (orders decided in one window fill in the next); a window that is not a whole
number of bars is refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from kimera.config import ConfigError
from tests.backtest.conftest import SECTIONS
from tests.support.config import config_with

pytestmark = pytest.mark.slow

TABLES = ("backtests", "backtest_orders", "backtest_fills", "backtest_equity")
THREE_BARS = 3 * 30 / (24 * 60)  # days: 1.5 h, three 30m bars


def windowed(days: float | None, memory_mb: int = 256):
    return config_with(**SECTIONS, backtest={"window_days": days, "memory_mb": memory_mb})


def stored(result, path: Path) -> dict[str, object]:
    from backtest.run import store

    store(path, result)
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.sql(f"select * from ml.{t}").to_arrow_table() for t in TABLES}


@pytest.mark.parametrize("style", ["taker", "maker"])
def test_a_replay_in_windows_writes_the_same_rows_as_one_window_over_the_span(
    bt_home, bt_compiled, bt_window, tmp_path, style
):
    from backtest.replay import ReplayFeed
    from backtest.run import replay

    start, end = bt_window  # 12 h: 24 bars of 30m, 8 windows of 3 bars
    results = {}
    for days in (None, THREE_BARS):
        config = windowed(days, memory_mb=64 if days else 256)  # the split run on DuckDB's smallest budget
        results[days] = asyncio.run(
            replay(bt_home, config, bt_compiled, start, end, seed=5, order_style=style, code_version="t")
        )
    whole, split = results[None], results[THREE_BARS]
    assert len(ReplayFeed(bt_home.warehouse_path, start, end, timedelta(minutes=30),
                          window=timedelta(hours=1.5)).windows()) == 8  # fmt: skip
    assert whole.run["bars"] == 24 and len(whole.orders) > 5 and len(whole.fills) > 0

    # a boundary falls while an order is working: decided at the last bar of one window (its
    # watermark ends that window), it reaches the venue and fills in the next window
    epoch = type(start)(1970, 1, 1)
    cuts = [int((start + timedelta(hours=1.5) * k - epoch) / timedelta(microseconds=1)) for k in range(1, 8)]
    assert any(o.decided_at <= c < o.arrive_at for o in split.orders for c in cuts)

    a = stored(whole, tmp_path / "whole.duckdb")
    b = stored(split, tmp_path / "split.duckdb")
    for table in TABLES:
        assert a[table].num_rows > 0, table
        assert a[table].equals(b[table]), f"ml.{table} differs between one window and eight"
    assert whole.run["run_id"] == split.run["run_id"]  # the read window and memory are not part of the run id


def test_a_window_that_is_not_a_whole_number_of_bars_is_refused_naming_the_accepted(
    bt_home, bt_compiled, bt_window
):
    from backtest.run import replay

    start, end = bt_window
    with pytest.raises(ConfigError, match=r"backtest.window_days 0.01 .* whole number of 30m bars"):
        asyncio.run(replay(bt_home, windowed(0.01), bt_compiled, start, end, code_version="t"))
    with pytest.raises(ValueError, match="window_days"):
        windowed(0)


def test_a_window_too_large_for_the_memory_budget_is_refused_naming_both_settings(raw_warehouse, bt_window):
    from backtest.replay import ReplayFeed
    from live.clock import TestClock

    start, end = bt_window
    # DuckDB cannot spill a read-only warehouse's sort: a window larger than the budget must say which knobs fit it
    feed = ReplayFeed(raw_warehouse, start, end, timedelta(minutes=30), window=end - start, memory_mb=2)

    async def drain() -> None:
        async for _ in feed.events(TestClock(start)):
            pass

    with pytest.raises(
        ConfigError, match=r"does not fit in backtest.memory_mb \(2 MB\).*shorten backtest.window_days"
    ):
        asyncio.run(drain())
