"""The replay is a feed of the live loop: time-ordered, complete, and the same bars as the simulator's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import duckdb
import pandas as pd

from backtest.replay import ReplayFeed
from live.clock import TestClock
from live.events import RawRows, Watermark
from live.features import RAW_TIME_COLUMNS, OnlineFeatures
from live.feeds.sim import SimFeed
from live.loop import Loop


def collect(feed, start):
    async def go():
        return [e async for e in feed.events(TestClock(start))]

    return asyncio.run(go())


def test_every_row_of_the_window_comes_once_in_time_order_before_its_watermark(raw_warehouse, bt_window):
    start, _ = bt_window
    end = start + timedelta(hours=3)
    events = collect(ReplayFeed(raw_warehouse, start, end, timedelta(minutes=30)), start)
    counted: dict[str, int] = {}
    since = start
    for e in events:
        if isinstance(e, Watermark):
            assert e.until > since
            since = e.until
        else:
            assert isinstance(e, RawRows)
            times = pd.Series(e.rows.column(RAW_TIME_COLUMNS[e.table]).to_pylist())
            assert times.is_monotonic_increasing and times.min() >= since
            assert times.max() < since + timedelta(minutes=30)
            counted[e.table] = counted.get(e.table, 0) + e.rows.num_rows
    assert since == end
    with duckdb.connect(str(raw_warehouse), read_only=True) as con:
        for table, n in counted.items():
            column = RAW_TIME_COLUMNS[table]
            stored = con.execute(
                f"select count(*) from raw.{table} where {column} >= ? and {column} < ?", [start, end]
            ).fetchone()[0]
            assert n == stored, table
    assert {
        "exchange_trades",
        "order_book_snapshots",
        "dex_swaps",
        "dex_pool_reserves",
        "chain_blocks",
    } <= set(counted)


def run_loop(compiled, feed, start):
    bars = []
    features = OnlineFeatures(compiled)
    try:
        asyncio.run(Loop(TestClock(start), feed, features, bars.extend).run())
    finally:
        features.close()
    return pd.DataFrame([{"asset": b.asset, "bar_time": b.bar_time, **b.values} for b in bars])


def test_the_loop_computes_the_same_bars_from_the_warehouse_as_from_the_live_feed(
    raw_warehouse, bt_compiled, bt_config, bt_window
):
    start, _ = bt_window
    end = start + timedelta(hours=5)
    bar = timedelta(minutes=30)
    replayed = run_loop(bt_compiled, ReplayFeed(raw_warehouse, start, end, bar), start)
    live = run_loop(bt_compiled, SimFeed(bt_config, start, end, step=bar), start)
    assert len(replayed) == len(live) == 2 * 10
    pd.testing.assert_frame_equal(replayed, live)
