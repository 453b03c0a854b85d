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
