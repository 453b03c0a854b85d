"""The benchmark's breakdown of the online-feature stage: timing each dbt model one by one gives
the same features as the shipped one-script path, and times every model on every bar."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from live.clock import TestClock
from live.features import OnlineFeatures
from live.feeds.sim import SimFeed
from live.loop import Loop


def run(compiled, config, start, end, timed: bool):
    bars: list = []
    features = OnlineFeatures(compiled)
    if timed:
        features.model_times = {}
    try:
        asyncio.run(Loop(TestClock(start), SimFeed(config, start, end), features, bars.extend).run())
    finally:
        features.close()
    return bars, features.model_times, [m.name for m in features.models]


def test_timing_each_model_changes_no_feature_and_times_every_model(compiled, live_config, live_window):
    start = live_window[0]
    end = start + timedelta(hours=3)
    shipped, none, _ = run(compiled, live_config, start, end, timed=False)
    timed, times, models = run(compiled, live_config, start, end, timed=True)

    assert none is None
    assert [(b.asset, b.bar_time, b.values) for b in timed] == [
        (b.asset, b.bar_time, b.values) for b in shipped
    ]
    closed = len({b.bar_time for b in shipped})
    assert closed >= 4 and list(times) == models  # dependencies first, as they run
    assert all(len(t) == closed and all(wall > 0 and cpu >= 0 for wall, cpu in t) for t in times.values())
