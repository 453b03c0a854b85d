"""``kimera live``: one process per account running the loop until stopped.

Composes the parts: a feed (``live.feed``), its clock, the online features (dbt's compiled SQL,
``live.features``), the promoted model (hot-swapped), the outbox and the signed sender to the
execution service. Every bar it writes ``KIMERA_HOME/live/status.json`` (heartbeat, lag, bars,
signals, latency percentiles per stage), which Dagster shows as the ``live/loop`` asset, and lands
the bar's predictions for ``raw.live_predictions`` (``live.landing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from kimera.config import TIMEFRAME_SECONDS, ConfigError, KimeraConfig
from kimera.settings import Settings
from live.clock import AcceleratedClock, Clock
from live.events import Event, Watermark
from live.features import OnlineFeatures
from live.feeds.sim import SimFeed
from live.landing import land_predictions
from live.loop import Loop
from live.model import FeatureWindows, PromotedModel
from live.signals import Outbox, SignalSender
from live.stream_sender import StreamSignalSender
from live.trader import Trader

STAGES = ("features", "model", "queue", "ack")
BB_PERIOD = 20  # dbt_project.yml's bb_period: the longest indicator window not in kimera.yaml


def live_dir(settings: Settings) -> Path:
    return settings.home_dir / "live"


def status_path(settings: Settings) -> Path:
    return live_dir(settings) / "status.json"


def needed_bars(config: KimeraConfig) -> int:
    """The most bars any feature reaches back, plus the bar itself."""
    f = config.features
    return max(f.vol_window, f.zscore_window, max(f.return_lags), BB_PERIOD) + 1


def with_live_overrides(config: KimeraConfig, overrides: dict[str, Any]) -> KimeraConfig:
    """``config`` with ``live`` values replaced (command-line options), validated as the file is, and
    checked against the features: ConfigError naming what is wrong."""
    from pydantic import ValidationError

    from kimera.config import LiveConfig

    try:
        live = LiveConfig.model_validate({**config.live.model_dump(), **overrides})
    except ValidationError as exc:
        problems = "; ".join(f"live.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(problems) from None
    config = config.model_copy(update={"live": live})
    if live.retention_bars < needed_bars(config):
        raise ConfigError(
            f"live.retention_bars = {live.retention_bars} is not accepted: the features reach back "
            f"{needed_bars(config)} bars (features windows and Bollinger's 20); give at least that"
        )
    if live.feed == "ccxt" and not config.exchange.ccxt_venues:
        raise ConfigError("live.feed = 'ccxt' needs exchange.ccxt_venues, e.g. [{exchange: binance}]")
    return config


BarHook = Callable[[datetime], Awaitable[None]]


class MarketSyncedFeed:
    """``feed`` whose every watermark waits for ``before`` (given the watermark's time) first.

    An application that runs a market beside the loop (the demo's paper venues) moves it there, so
    that a bar's signals meet the books of the bar's close. The watermark is stamped when the hook
    is done: the tick the latencies start from is the moment the market shows it.
    """

    def __init__(self, feed: Any, before: BarHook) -> None:
        self.feed, self.before = feed, before

    def reference_tables(self) -> dict[str, Any]:
        return self.feed.reference_tables()

    async def events(self, clock: Clock) -> AsyncIterator[Event]:
        async for event in self.feed.events(clock):
            if isinstance(event, Watermark):
                await self.before(event.until)
                event = Watermark(event.until, clock.monotonic())
            yield event


@dataclass
class LiveRun:
    bars: int
    predictions: int
    signals_queued: int
    accepted: int
    rejected: int
    marked: int
    latencies_ms: dict[str, dict[str, float]]


def stage_latencies(trader: Trader, sender: SignalSender | None) -> dict[str, dict[str, float]]:
    """p50/p99 (ms) of each stage over the traded predictions; ``tick_to_ack`` from the watermark that
    closed the bar to the service's answer."""
    spans: dict[str, list[float]] = {s: [] for s in (*STAGES, "tick_to_ack")}
    # warm-up and replayed bars run before the loop trades (and faster, unpaced): not its latency;
    # a loop that trades nothing (live.trade false) reports every bar's stages
    for d in [d for d in trader.decisions if d.traded] or trader.decisions:
        s = d.stages
        spans["features"].append(s["features_done"] - s["watermark"])
        spans["model"].append(s["predicted"] - s["features_done"])
        spans["queue"].append(s["queued"] - s["predicted"])
        acked = sender.sent_at.get(d.prediction.prediction_id) if sender else None
        if d.traded and acked is not None:
            spans["ack"].append(acked - s["queued"])
            spans["tick_to_ack"].append(acked - s["watermark"])
    return {
        k: {"p50": float(np.percentile(v, 50)) * 1e3, "p99": float(np.percentile(v, 99)) * 1e3, "n": len(v)}
        for k, v in spans.items()
        if v
    }


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Atomically: a reader (the Dagster asset) sees the old status or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, default=str, indent=1))
    os.replace(tmp, path)


async def run_live(
    settings: Settings,
    config: KimeraConfig,
    compiled_dir: Path,
    *,
    start: datetime | None = None,
    bars: int | None = None,
    clock: Clock | None = None,
    feed: Any = None,
    auth: Any = None,
    echo=print,
    trade_from: datetime | None = None,
    before_watermark: BarHook | None = None,
    after_bar: BarHook | None = None,
    stop_on_sigterm: bool = True,
) -> LiveRun:
    """Run the loop until ``bars`` bars have closed (or forever / SIGTERM) on ``feed`` (default: the
    simulator's stream from ``start`` on an accelerated clock at ``live.speed``).

    Hooks of an application that runs the market beside the loop (live/ knows nothing of it):
    ``before_watermark(t)`` is awaited before each watermark ``t`` of the feed is handled (bars
    closing at ``t`` are computed after it), ``after_bar(bar_time)`` after each closed bar's
    signals were answered by the service. Give them a clock that stands still meanwhile
    (:class:`~live.clock.PacedClock`). Bars closing before ``trade_from`` warm the windows up and
    are not traded, as bars replayed after a restart are not. ``stop_on_sigterm`` False leaves
    SIGTERM to the caller's handler.
    """
    config = with_live_overrides(config, {})
    live = config.live
    bar = timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
    start = start or config.start_time
    clock = clock or AcceleratedClock(start, live.speed)
    feed = feed or SimFeed(config, start)
    features = OnlineFeatures(compiled_dir, retention_bars=live.retention_bars, workers=live.feature_workers)
    max_age = timedelta(hours=live.max_model_age_hours) if live.max_model_age_hours else None
    model = PromotedModel(settings, max_age=max_age)
    outbox = Outbox(live_dir(settings) / "outbox.sqlite")
    sender = None
    if live.trade:
        url = f"http://{config.execution.host}:{config.execution.port}"
        if live.intake == "stream":
            sender = StreamSignalSender(outbox, url, auth, clock)
        else:
            sender = SignalSender(outbox, url, auth, clock)
    trader = Trader(model, FeatureWindows([], 1, bar), outbox, sender, clock)
    if trade_from is not None:  # the warm-up is traded as a restart's replay is: not at all
        warm_until = trade_from - bar
        trader.resume_after = max(trader.resume_after or warm_until, warm_until)
    if before_watermark is not None:
        feed = MarketSyncedFeed(feed, before_watermark)
    started = clock.now()

    async def on_bar(closed) -> None:
        await trader.on_bar(closed)
        if not closed:
            return
        bar_time = closed[0].bar_time
        latest = [d for d in trader.decisions if d.prediction.feature_time == bar_time]
        for d in latest:
            p = d.prediction
            state = "signal queued" if d.traded else f"not traded: {d.reason}"
            echo(f"{bar_time:%Y-%m-%d %H:%M} {p.asset} forecast {p.forecast:+.5f} p_up {p.p_up:.3f} {state}")
        if not latest:
            echo(f"{bar_time:%Y-%m-%d %H:%M} features ready; {model.last_error or 'windows warming up'}")
        # the warehouse's record of every prediction: a file the landing sensor loads once
        await asyncio.to_thread(land_predictions, settings.landing_dir, latest, clock.now())
        write_status(status_path(settings), status(bar_time))
        if after_bar is not None:
            if sender is not None and any(d.traded for d in latest):
                await sender.drain(60)  # the bar's signals answered before the service is asked
            await after_bar(bar_time)

    def status(bar_time: datetime | None) -> dict[str, Any]:
        now = clock.now()
        return {
            "heartbeat": now.isoformat(sep=" "),
            "started": started.isoformat(sep=" "),
            "pid": os.getpid(),
            "feed": live.feed,
            "model_tag": model.tag,
            "last_bar": bar_time.isoformat(sep=" ") if bar_time else None,
            "lag_s": (now - bar_time).total_seconds() if bar_time else None,
            "bars_closed": loop.stats.bars_closed,
            "bars_marked": loop.stats.bars_marked,
            "predictions": len(trader.decisions),
            "signals": outbox.counts(),
            "bars_traded": outbox.bars_traded(),
            "latency_ms": stage_latencies(trader, sender),
        }

    loop = Loop(clock, feed, features, on_bar)
    sender_task = asyncio.create_task(sender.run()) if sender else None
    stop = asyncio.Event()
    if stop_on_sigterm:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    loop_task = asyncio.create_task(loop.run(max_bars=bars))
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([loop_task, stopper], return_when=asyncio.FIRST_COMPLETED)
        if loop_task.done():
            loop_task.result()
        if sender is not None:
            await sender.drain(30)
    finally:
        for task in (loop_task, stopper):
            task.cancel()
        # a stop (SIGTERM) lands mid-bar: wait for the loop to close its feed (websockets, last files)
        await asyncio.gather(loop_task, stopper, return_exceptions=True)
        if sender is not None:
            await sender.stop()
        if sender_task is not None:
            sender_task.cancel()
            await asyncio.gather(sender_task, return_exceptions=True)
        write_status(status_path(settings), status(loop.stats.last_bar))
        features.close()
        counts = outbox.counts()
        outbox.close()
    return LiveRun(
        bars=loop.stats.bars_closed,
        predictions=len(trader.decisions),
        signals_queued=sum(d.traded for d in trader.decisions),
        accepted=counts.get("accepted", 0),
        rejected=counts.get("rejected", 0),
        marked=loop.stats.bars_marked,
        latencies_ms=stage_latencies(trader, sender),
    )


def ccxt_feed(config: KimeraConfig, settings: Settings):
    """The ccxt.pro feed of every ``exchange.ccxt_venues`` entry and asset (``live.feed: ccxt``), its
    trades and book snapshots landed in ``settings.landing_dir``."""
    from connect.ccxt import build_exchange, venue_symbol
    from live.feeds.books import BookWatchers, LiveBook
    from live.feeds.ccxt import CcxtFeed, Stream
    from live.feeds.landed import LandingFeed

    streams = []
    for venue in config.exchange.ccxt_venues:
        pro = build_exchange(venue, config.exchange.retry, pro=True, settings=settings)
        streams += [Stream(venue.venue, venue_symbol(venue, a.symbol, a.quote), pro) for a in config.assets]
    books = None
    if config.exchange.stream.order_books:  # the same switch as `kimera stream`'s book watchers
        interval = config.exchange.stream.book_seconds or TIMEFRAME_SECONDS[config.exchange.book_interval]
        books = BookWatchers(
            [LiveBook(s.venue, s.symbol, s.exchange) for s in streams],
            config.exchange.book_depth,
            timedelta(seconds=interval),
        )
    feed = CcxtFeed(streams, timedelta(seconds=TIMEFRAME_SECONDS[config.exchange.timeframe]), books=books)
    return LandingFeed(feed, settings.landing_dir)  # what it sees lands for the warehouse
