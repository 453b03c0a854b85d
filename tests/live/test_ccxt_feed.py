"""The ccxt.pro feed against the loopback exchange (Binance's websocket and REST formats, the real
ccxt.pro class): candles from trades on exchange time; a dropped websocket is backfilled before
its candles close, or, when the backfill fails, the stretch is a gap and never invented."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from connect.ccxt import build_exchange
from live.clock import LiveClock
from live.events import Gap, RawRows, Watermark
from live.feeds.ccxt import CcxtFeed, Stream
from marketsim.exchange_server import ExchangeServer, Market
from tests.pipelines.landing.conftest import stream_config

pytestmark = pytest.mark.timeout(120)
CANDLE = timedelta(seconds=2)


@pytest.fixture
def exchange_server():
    with ExchangeServer(Market(trade_interval_ms=100)) as server:
        yield server


async def collect(
    server: ExchangeServer,
    seconds: float,
    drop_at: float | None,
    rest_down: bool = False,
    skew=timedelta(0),
    until=None,
    trades_limit: int | None = None,
    stall_at: float | None = None,
):
    """Runs the feed for `seconds`; with `until`, runs instead until `until(events)` holds (a deadline
    of 60 s after the drop), so a loaded machine only makes the test slower, never wrong."""
    config = stream_config(server)
    pro = build_exchange(config.exchange.ccxt_venues[0], config.exchange.retry, pro=True)
    if trades_limit is not None:  # ccxt.pro's trade cache per symbol between two watch_trades calls
        pro.options["tradesLimit"] = trades_limit
    feed = CcxtFeed([Stream("binance", s, pro) for s in ("BTC/USDT", "ETH/USDT")], CANDLE,
                    grace=timedelta(milliseconds=1500), max_backoff_s=0.5)  # fmt: skip
    events = []

    async def consume():
        async for event in feed.events(LiveClock(skew=skew)):
            events.append(event)

    async def drop():
        await asyncio.sleep(drop_at)
        if rest_down:
            server.faults.fail(times=1000, status=503, path="/aggTrades")
        assert await asyncio.to_thread(server.drop_websockets) >= 1

    consumer = asyncio.create_task(consume())
    if stall_at is not None:  # the loop busy elsewhere (a slow bar) while trades keep coming
        await asyncio.sleep(stall_at)
        time.sleep(1.5)
    if drop_at is not None:
        await drop()
    if until is None:
        await asyncio.sleep(seconds - (drop_at or 0))
    else:
        for _ in range(600):
            if until(events):
                break
            await asyncio.sleep(0.1)
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)
    assert pro.clients == {} or all(c.closed for c in pro.clients.values())  # the feed closed it
    return feed, events


def rows(events, table):
    return [r for e in events if isinstance(e, RawRows) and e.table == table for r in e.rows.to_pylist()]


def test_a_dropped_websocket_is_backfilled_before_its_candles_close(exchange_server):
    feed, events = asyncio.run(collect(exchange_server, seconds=10.0, drop_at=3.0))

    assert exchange_server.websocket_connections >= 2 and feed.stats.reconnects >= 1
    assert exchange_server.requests_to("/aggTrades") and feed.stats.backfilled >= 1
    trades = rows(events, "exchange_trades")
    candles = rows(events, "exchange_ohlcv")
    assert not [e for e in events if isinstance(e, Gap)]
    for symbol in ("BTC/USDT", "ETH/USDT"):
        ids = sorted(int(t["trade_id"]) for t in trades if t["symbol"] == symbol)
        assert len(ids) == len(set(ids)) and ids == list(range(ids[0], ids[-1] + 1)), (
            "a trade lost or doubled"
        )
        mine = [c for c in candles if c["symbol"] == symbol]
        assert len(mine) >= 2
        for c in mine:  # each candle holds exactly the trades of its window: none came after it closed
            inside = [
                t
                for t in trades
                if t["symbol"] == symbol and c["open_time"] <= t["ts"] < c["open_time"] + CANDLE
            ]
            assert c["volume"] == pytest.approx(sum(t["amount"] for t in inside), rel=1e-12)
            if inside:
                assert c["close"] == sorted(inside, key=lambda t: t["ts"])[-1]["price"]
    marks = [e.until for e in events if isinstance(e, Watermark)]
    assert marks == sorted(marks) and len(set(marks)) == len(marks)  # exchange time only moves on
    assert feed.builder.late_trades == 0


def _contiguous_ids(trades, symbol) -> bool:
    ids = sorted(int(t["trade_id"]) for t in trades if t["symbol"] == symbol)
    return len(ids) == len(set(ids)) and ids == list(range(ids[0], ids[-1] + 1))


def test_a_loop_that_fell_behind_fetches_what_the_stream_dropped(exchange_server):
    # ccxt.pro keeps only the newest `tradesLimit` trades between two calls and drops the rest
    # silently: a stalled loop must notice the full batch and fetch the stretch over REST
    feed, events = asyncio.run(
        collect(exchange_server, seconds=7.0, drop_at=None, trades_limit=4, stall_at=3.0)
    )

    assert feed.stats.overflows >= 1 and exchange_server.requests_to("/aggTrades")
    trades = rows(events, "exchange_trades")
    assert not [e for e in events if isinstance(e, Gap)]
    for symbol in ("BTC/USDT", "ETH/USDT"):
        assert _contiguous_ids(trades, symbol), f"{symbol}: a trade lost or doubled"
    assert feed.builder.late_trades == 0  # the watermark waited for the backfill


def _gaps_then_a_candle_past_them(events) -> bool:
    """Both symbols declared their gap, and exchange time moved a whole candle past the later one's end
    (any candle invented over a gap would have been emitted by then)."""
    gaps = [e for e in events if isinstance(e, Gap)]
    if {g.symbol for g in gaps} != {"BTC/USDT", "ETH/USDT"}:
        return False
    marks = [e.until for e in events if isinstance(e, Watermark)]
    return bool(marks) and marks[-1] >= max(g.end for g in gaps) + CANDLE


def test_a_failed_backfill_is_a_gap_and_its_candles_are_never_invented(exchange_server):
    feed, events = asyncio.run(
        collect(
            exchange_server, seconds=8.0, drop_at=3.0, rest_down=True, until=_gaps_then_a_candle_past_them
        )
    )

    gaps = [e for e in events if isinstance(e, Gap)]
    assert {g.symbol for g in gaps} == {"BTC/USDT", "ETH/USDT"}
    assert all("backfill failed" in g.reason and g.start < g.end for g in gaps)
    candles = rows(events, "exchange_ohlcv")
    for g in gaps:
        touched = [c for c in candles if c["symbol"] == g.symbol and c["open_time"] < g.end
                   and c["open_time"] + CANDLE > g.start]  # fmt: skip
        assert touched == []


@pytest.mark.parametrize("skew", [timedelta(minutes=5), timedelta(minutes=-5)])
def test_a_host_clock_off_by_minutes_still_closes_candles_on_exchange_time(exchange_server, skew):
    feed, events = asyncio.run(
        collect(
            exchange_server,
            seconds=6.0,
            drop_at=None,
            skew=skew,
            until=lambda ev: len(rows(ev, "exchange_ohlcv")) >= 4,
        )
    )

    trades = rows(events, "exchange_trades")
    candles = rows(events, "exchange_ohlcv")
    assert len(candles) >= 2 and feed.builder.late_trades == 0
    newest_trade = max(t["ts"] for t in trades)
    marks = [e.until for e in events if isinstance(e, Watermark)]
    # the watermark follows the exchange's clock, not the host's five minutes off
    assert abs((marks[-1] - newest_trade).total_seconds()) < 5
    for c in candles:
        inside = [
            t
            for t in trades
            if t["symbol"] == c["symbol"] and c["open_time"] <= t["ts"] < c["open_time"] + CANDLE
        ]
        assert c["volume"] == pytest.approx(sum(t["amount"] for t in inside), rel=1e-12)


def test_a_stop_that_lands_as_an_event_arrives_still_stops_the_feed():
    """A cancel delivered in the same step as the feed's next event must stop it (on Python 3.11,
    ``asyncio.wait_for`` returned the event and swallowed the cancel: the feed, and so `kimera live`'s
    shutdown, then ran on forever; it hung a CI run)."""
    from datetime import datetime

    feed = CcxtFeed([], CANDLE, grace=timedelta(milliseconds=1500))

    async def consume():
        async for _ in feed.events(LiveClock()):
            pass

    async def go() -> bool:
        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.05)  # the feed now waits on its queue
        now = datetime(2026, 1, 1)
        feed._queue.put_nowait(Gap("binance", "BTC/USDT", now, now + CANDLE, "test"))
        consumer.cancel()  # lands in the step in which the queue hands the gap over
        done, _ = await asyncio.wait({consumer}, timeout=5)
        if not done:
            consumer.cancel()  # do not leave it running: the answer is already known
        return consumer in done

    assert asyncio.run(go()), "the feed ignored its cancel and kept running"
