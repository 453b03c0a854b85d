"""A bar a feed lost part of is handed on marked and never traded; so is the bar the loop joins."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from kimera.config import TIMEFRAME_SECONDS
from live.clock import TestClock
from live.events import Gap, Watermark
from live.features import OnlineFeatures
from live.feeds.sim import SimFeed
from live.loop import Loop

pytestmark = pytest.mark.slow


class GapAfter:
    """The sim feed, with a lost stretch of one stream reported once the watermark passes it."""

    def __init__(self, feed: SimFeed, gap: Gap) -> None:
        self.feed, self.gap = feed, gap

    def reference_tables(self):
        return self.feed.reference_tables()

    async def events(self, clock):
        sent = False
        async for event in self.feed.events(clock):
            if isinstance(event, Watermark) and not sent and event.until >= self.gap.end:
                sent = True
                yield self.gap
            yield event


def test_a_gap_marks_the_bars_it_touches_and_only_those(compiled, live_config, live_window):
    bar = timedelta(seconds=TIMEFRAME_SECONDS[live_config.features.bar])
    start = live_window[0]
    lost = Gap("alpha", "ETH/USDT", start + 2 * bar + timedelta(minutes=5), start + 2 * bar + timedelta(minutes=9),
               "websocket dropped and the REST backfill failed")  # fmt: skip
    closed = []
    features = OnlineFeatures(compiled)
    try:
        feed = GapAfter(SimFeed(live_config, start, start + 5 * bar), lost)
        asyncio.run(Loop(TestClock(start), feed, features, closed.extend).run())
    finally:
        features.close()
    marked = {(b.asset, b.bar_time) for b in closed if not b.tradeable}
    assert marked == {("ETH", start + 3 * bar)}  # the bar holding the lost minutes, for that asset only
    assert "backfill failed" in next(b.gap for b in closed if not b.tradeable)


def test_the_bar_the_loop_joins_midway_is_marked(compiled, live_config, live_window):
    bar = timedelta(seconds=TIMEFRAME_SECONDS[live_config.features.bar])
    start = live_window[0] + timedelta(minutes=7)  # inside the first bar
    closed = []
    features = OnlineFeatures(compiled)
    try:
        asyncio.run(
            Loop(
                TestClock(start), SimFeed(live_config, start, start + 2 * bar), features, closed.extend
            ).run()
        )
    finally:
        features.close()
    first = live_window[0] + bar
    assert {b.bar_time for b in closed if not b.tradeable} == {first}
    assert all(b.tradeable for b in closed if b.bar_time > first)
