"""``kimera backtest``'s replay speed: raw events per second through the full loop, beside a bare
iteration over the same Arrow batches (the ceiling), in the same run.

The window is the demo's (``demo_days`` of the shipped config: trades and books of 2 assets on 3
venues, DEX swaps and reserves, chain blocks), made by the simulator's batch ingest into a
throwaway warehouse. The full loop is what ``kimera backtest`` runs: the replay feed, the online
features (dbt's compiled SQL in DuckDB), a promoted linear model, the live trader, sizing,
pre-trade risk, the router and the fill model. The ceiling reads the same record batches from
DuckDB and slices them by bar, doing nothing else. ``--quick`` replays 2 days. The features run as
``kimera backtest`` ships them: dbt's SQL once per chunk of ``CHUNK_BARS`` bars, read bar by bar.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import yaml

from bench import Measure
from bench.execution import ROOT
from bench.live import _promote_linear


def _bare(warehouse: Path, start, end, bar, window=None, memory_mb=None) -> tuple[int, float]:
    from backtest.replay import ReplayFeed
    from live.clock import TestClock
    from live.events import RawRows

    # read as the replay reads (its windows and DuckDB budget), so both sides read the same way
    feed = ReplayFeed(warehouse, start, end, bar, window=window, memory_mb=memory_mb)

    async def go() -> int:
        n = 0
        async for event in feed.events(TestClock(start)):
            if isinstance(event, RawRows):
                n += event.rows.num_rows
        return n

    began = time.perf_counter()
    n = asyncio.run(go())
    return n, time.perf_counter() - began


def run(quick: bool = False) -> list[Measure]:
    from backtest.run import CHUNK_BARS, read_window, replay
    from kimera.config import TIMEFRAME_SECONDS, load_config
    from kimera.settings import Settings
    from pipelines.features.online_sql import compile_online_features
    from pipelines.features.sim_data import load_sim_reference, load_sim_window

    tmp = Path(tempfile.mkdtemp(prefix="kimera-bench-backtest-"))
    try:
        data = yaml.safe_load((ROOT / "kimera.yaml").read_text())
        days = 2 if quick else int(data.get("demo_days", 90))
        data["execution"] = {"risk": {"daily_loss_limit": 1e9}}
        config_path = tmp / "kimera.yaml"
        config_path.write_text(yaml.safe_dump(data))
        config = load_config(config_path)
        settings = Settings(home=tmp / "home", config=config_path)
        settings.home_dir.mkdir(parents=True)
        start, end = config.start_time, config.start_time + timedelta(days=days)
        with duckdb.connect(str(settings.warehouse_path)) as con:
            load_sim_reference(con, config)
            for day in range(days):
                load_sim_window(con, config, start + timedelta(days=day), start + timedelta(days=day + 1))
        compiled = compile_online_features(config, tmp / "compiled", window_bars=CHUNK_BARS)
        _promote_linear(settings, start)
        bar = timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])

        events, bare_s = _bare(settings.warehouse_path, start, end, bar, read_window(config, bar),
                               config.backtest.memory_mb)  # fmt: skip
        began = time.perf_counter()
        result = asyncio.run(replay(settings, config, compiled, start, end, seed=7, code_version="bench"))
        full_s = time.perf_counter() - began
        per_bar_s = None
        if quick:  # the live loop's per-bar SQL (--per-bar-features), the peer: too slow for 90 days
            per_bar = compile_online_features(config, tmp / "compiled-per-bar")
            began = time.perf_counter()
            peer = asyncio.run(replay(settings, config, per_bar, start, end, seed=7, code_version="bench"))
            per_bar_s = time.perf_counter() - began
            assert [o.average_price for o in peer.orders] == [o.average_price for o in result.orders]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert result.run["events"] == events, (result.run["events"], events)
    full_rate, bare_rate = events / full_s, events / bare_s
    what = f"{events:,} raw events of {days} days, {result.run['bars']} bars of {bar}, {result.run['orders']} orders"
    rows = [
        Measure(
            f"backtest replay, full loop ({what})", full_rate, "events/s",
            "bare iteration over the same Arrow batches from DuckDB", bare_rate, full_rate / bare_rate,
            "value >= 1e6 events/s on one core", full_rate >= 1e6,
        ),
        Measure(
            f"backtest of the {'2-day quick' if quick else 'demo'} window, wall time", full_s, "s",
            "bare iteration over the same batches", bare_s, full_s / bare_s,
            "value <= 60 s for the whole demo window", (not quick) and full_s <= 60,
        ),
    ]  # fmt: skip
    if per_bar_s is not None:
        rows.append(Measure(
            "backtest replay, full loop, features a chunk of bars per SQL run (shipped)", full_rate, "events/s",
            "the same replay with the live loop's per-bar SQL (--per-bar-features), same orders",
            events / per_bar_s, per_bar_s / full_s, "reported", True,
        ))  # fmt: skip
    return rows
