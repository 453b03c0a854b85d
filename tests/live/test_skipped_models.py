"""A feed without DEX or chain data (a centralised exchange's trades and books only): the models
that only bucket those rows are not run, and the features still equal dbt's batch build."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import duckdb
import pytest

from live.clock import TestClock
from live.events import RawRows
from live.features import OnlineFeatures
from live.feeds.sim import SimFeed
from live.loop import Loop
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.project import dbt_vars
from pipelines.features.sim_data import load_sim_reference, load_sim_window
from tests.dbt.compare import assert_same_rows, read_table
from tests.live.run import as_frame

ON_CHAIN = ("chain_blocks", "token_transfers", "dex_swaps", "dex_pool_reserves")
KEYS = ["asset", "bar_time"]
pytestmark = pytest.mark.slow


class ExchangeOnly:
    """The simulator's feed without its on-chain tables."""

    def __init__(self, feed: SimFeed) -> None:
        self.feed = feed

    def __getattr__(self, name: str):  # reference tables, stats: the simulator's own
        return getattr(self.feed, name)

    async def events(self, clock):
        async for event in self.feed.events(clock):
            if not (isinstance(event, RawRows) and event.table in ON_CHAIN):
                yield event


def test_models_without_input_rows_are_skipped_and_features_still_equal_dbts(tmp_path, compiled, live_config, live_window):  # fmt: skip
    start = live_window[0]
    end = start + timedelta(hours=8)
    home = tmp_path / "batch"
    home.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        load_sim_reference(con, live_config)
        load_sim_window(con, live_config, start, end)
        for table in ON_CHAIN:
            con.execute(f"delete from raw.{table}")
    run_dbt(["run", "--select", "+features"], home=home, dbt_vars=dbt_vars(live_config))
    batch = read_table(home, "marts.features", KEYS)

    bars = []
    features = OnlineFeatures(compiled)
    try:
        asyncio.run(Loop(TestClock(start), ExchangeOnly(SimFeed(live_config, start, end)), features, bars.extend).run())  # fmt: skip
        skipped = dict(features.skipped)
    finally:
        features.close()
    online = as_frame(bars, list(batch.columns))

    assert len(batch) == 2 * 16  # two assets, 8 hours of 30-minute bars
    assert_same_rows(batch, online, KEYS, "exchange-only online vs marts.features")
    closed = len(online) // 2
    # the DEX, chain and token-flow buckets never ran; the exchange's models ran every bar
    assert skipped == {m: closed for m in ("int_dex_bars_aggregated", "int_chain_metrics_bucketed", "int_token_flows_bucketed")}  # fmt: skip
