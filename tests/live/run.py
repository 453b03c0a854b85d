"""Running the loop on the simulator's feed with a test clock, collecting its bars."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pandas as pd

from kimera.config import KimeraConfig
from live.clock import TestClock
from live.events import BarFeatures
from live.features import OnlineFeatures
from live.feeds.sim import SimFeed
from live.loop import Loop


def run_online(
    compiled: Path, config: KimeraConfig, start: datetime, end: datetime, workers: int = 1
) -> list[BarFeatures]:
    bars: list[BarFeatures] = []
    features = OnlineFeatures(compiled, workers=workers)
    try:
        loop = Loop(TestClock(start), SimFeed(config, start, end), features, bars.extend)
        asyncio.run(loop.run())
    finally:
        features.close()
    return bars


def as_frame(bars: list[BarFeatures], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame([{"asset": b.asset, "bar_time": b.bar_time, **b.values} for b in bars])
    return frame[columns].sort_values(["asset", "bar_time"]).reset_index(drop=True)
