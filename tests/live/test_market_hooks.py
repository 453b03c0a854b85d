"""``run_live``'s hooks for an application that runs a market beside the loop (the demo's paper
day, kimera/app/demo/paper_live.py): the market moves to each watermark before the bars it closes
are computed, each bar waits for the application after its signals, the paced clock does not run
ahead meanwhile, and the warm-up bars before ``trade_from`` are predicted but never traded."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta

import pytest

from kimera.config import TIMEFRAME_SECONDS
from live.clock import PacedClock
from live.feeds.sim import SimFeed
from live.run import live_dir, run_live
from tests.live.test_trading import FEATURES, promote, train

pytestmark = pytest.mark.slow


def test_the_market_follows_the_loop_and_warm_up_bars_are_not_traded(
    kimera_home, compiled, batch_home, live_config, live_window
):
    model, _, end = train(batch_home, FEATURES)
    promote(model, end, kimera_home)
    config = live_config.model_copy(
        update={"live": live_config.live.model_copy(update={"trade": False, "max_model_age_hours": 1000})}
    )
    bar = timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
    start, stop = live_window
    trade_from = start + timedelta(hours=12)
    clock = PacedClock(start, speed=1e6, paced_from=trade_from - bar)
    calls: list[tuple[str, datetime, datetime]] = []  # (hook, its time, the clock's time when it ended)

    async def market_to(moment: datetime) -> None:
        await asyncio.sleep(0.01)  # a market taking its time to show the moment
        calls.append(("market", moment, clock.now()))

    async def settled(bar_time: datetime) -> None:
        await asyncio.sleep(0.01)  # the service finishing the bar's orders
        calls.append(("settled", bar_time, clock.now()))

    run = asyncio.run(
        run_live(
            kimera_home, config, compiled, start=start, clock=clock,
            feed=SimFeed(config, start, stop, step=bar), echo=lambda line: None,
            trade_from=trade_from, before_watermark=market_to, after_bar=settled, stop_on_sigterm=False,
        )
    )  # fmt: skip

    closes = [start + k * bar for k in range(1, (stop - start) // bar + 1)]
    # each watermark moves the market first, then its bar closes and waits for the market to settle
    assert calls == [(hook, t, t) for t in closes for hook in ("market", "settled")]
    assert run.bars == len(closes)
    with sqlite3.connect(live_dir(kimera_home) / "outbox.sqlite") as con:
        queued = con.execute("select asset, bar_time from signals").fetchall()
    con.close()
    traded_bars = {datetime.fromisoformat(t) for _, t in queued}
    # every bar from trade_from on is traded for every asset, none of the warm-up before it
    assert traded_bars == {t for t in closes if t >= trade_from}
    assert len(queued) == len(traded_bars) * len(config.assets)
    assert run.predictions > len(queued)  # the warm-up bars were predicted too
