"""Where the online-feature stage of ``kimera live`` spends its time: each dbt model's statements
per bar, wall and CPU of the thread running them, on the simulator's stream with a test clock
(bars as fast as the code; the same compiled SQL and buffer as the shipped loop, run model by model
instead of as one script so that each model is timed)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import numpy as np

from kimera.config import TIMEFRAME_SECONDS, KimeraConfig

WARM_UP_BARS = 2  # the first bars fill empty tables: not what a running loop pays


def model_times(compiled: Path, config: KimeraConfig, bars: int) -> dict[str, tuple[float, float]]:
    """{model: (wall p50 ms, CPU p50 ms)} per bar, dependencies first, over ``bars`` bars."""
    from live.clock import TestClock
    from live.features import OnlineFeatures
    from live.feeds.sim import SimFeed
    from live.loop import Loop

    start = config.start_time
    end = start + bars * timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
    features = OnlineFeatures(compiled, retention_bars=config.live.retention_bars)
    features.model_times = {}
    try:
        asyncio.run(Loop(TestClock(start), SimFeed(config, start, end), features, lambda _: None).run())
        spent = {name: np.array(times[WARM_UP_BARS:]) * 1e3 for name, times in features.model_times.items()}
    finally:
        features.close()
    return {name: (float(np.median(t[:, 0])), float(np.median(t[:, 1]))) for name, t in spent.items()}


ON_CHAIN = ("chain_blocks", "token_transfers", "dex_swaps", "dex_pool_reserves")


class _ExchangeOnly:
    """The simulator's feed without its on-chain tables: what a centralised exchange's feed gives."""

    def __init__(self, feed) -> None:
        self.feed = feed

    def __getattr__(self, name: str):
        return getattr(self.feed, name)

    async def events(self, clock):
        from live.events import RawRows

        async for event in self.feed.events(clock):
            if not (isinstance(event, RawRows) and event.table in ON_CHAIN):
                yield event


def close_bar_times(
    compiled: Path, config: KimeraConfig, bars: int, exchange_only: bool, workers: int = 1
) -> tuple[float, float, int]:
    """(wall p50 ms, CPU p50 ms of the whole process, models skipped per bar) of one bar's features
    as shipped (one script per bar, or ``workers`` models at once) on the simulator's feed, or on its
    exchange rows only (the DEX and chain buckets get no rows)."""
    import time

    from live.clock import TestClock
    from live.features import OnlineFeatures
    from live.feeds.sim import SimFeed
    from live.loop import Loop

    start = config.start_time
    end = start + bars * timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
    features = OnlineFeatures(compiled, retention_bars=config.live.retention_bars, workers=workers)
    walls: list[float] = []
    cpus: list[float] = []
    close = features.close_bar

    def timed(bar_time):
        # the loop awaits this bar's features before it takes the next event: the process's CPU
        # meanwhile is theirs (the pool's threads included)
        wall, cpu = time.perf_counter(), time.process_time()
        rows = close(bar_time)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        return rows

    features.close_bar = timed  # type: ignore[method-assign]
    feed = SimFeed(config, start, end)
    try:
        asyncio.run(Loop(TestClock(start), _ExchangeOnly(feed) if exchange_only else feed, features, lambda _: None).run())  # fmt: skip
        skipped = sum(features.skipped.values()) // max(len(walls), 1)
    finally:
        features.close()
    ms = lambda xs: float(np.median(xs[WARM_UP_BARS:]) * 1e3)  # noqa: E731
    return ms(walls), ms(cpus), skipped
