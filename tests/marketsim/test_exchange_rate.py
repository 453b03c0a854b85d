"""The loopback exchange at a given trade rate: bursts of trades on whole-millisecond ticks, ids
increasing, nothing skipped or repeated when read from an id, and stragglers held back."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from marketsim.exchange_server import ExchangeServer, Market
from marketsim.exchange_server.serve import venue_markets


@pytest.mark.parametrize("rate", [50.0, 1000 / 6, 10_000 / 6, 5000.0])
def test_a_market_streams_the_rate_asked_as_bursts_on_millisecond_ticks(rate):
    market = Market.at_rate(rate)
    assert market.trades_per_s_per_symbol == pytest.approx(rate, rel=0.02)
    trades = [market.trade("BTC/USDT", i) for i in range(10_000, 10_000 + 50 * market.trades_per_tick)]
    times = [t.ts_ms for t in trades]
    assert times == sorted(times)  # never backwards
    assert len(set(times)) == 50  # one timestamp per tick, a burst on each
    span_s = (trades[-1].ts_ms - trades[0].ts_ms) / 1000
    assert (len(trades) - market.trades_per_tick) / span_s == pytest.approx(rate, rel=0.1)


def test_reading_from_an_id_inside_a_burst_neither_skips_nor_repeats():
    market = Market.at_rate(10_000 / 6)
    assert market.trades_per_tick > 1
    start = market.first_trade_id_at(market.now_ms() - 2000)
    seen = []
    next_id = start + 2  # inside a burst
    while len(seen) < 400:
        page = market.trades_from_id("ETH/USDT", next_id, 37)
        seen += [t.id for t in page]
        next_id = page[-1].id + 1
    assert seen == list(range(start + 2, start + 2 + len(seen)))
    assert market.trade_ts(market.first_trade_id_at(market.now_ms() - 1000)) >= market.now_ms() - 1000


def test_an_unlisted_symbol_or_an_impossible_rate_is_refused_with_what_is_accepted():
    with pytest.raises(ValueError, match="not listed; accepted"):
        venue_markets(3, ["DOGE/USDT"], 1000)
    with pytest.raises(ValueError, match="out of the accepted range"):
        Market.at_rate(1_000_000)
    with pytest.raises(ValueError, match="must be >= 1"):
        Market(trade_interval_ms=0)


def test_stragglers_reach_websocket_subscribers_after_their_delay_and_after_later_trades():
    market = Market.at_rate(200, straggler_period_ms=1500, straggler_delay_ms=600)

    async def listen(server: ExchangeServer) -> list[dict]:
        url = f"{server.base_url}/stream.binance.com/ws/1"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}))
            out = []
            async for message in ws:
                data = json.loads(message.data)
                if data.get("e") == "trade":
                    out.append(data)
                if len(out) >= 1000:
                    return out
        return out

    with ExchangeServer(market) as server:
        got = asyncio.run(asyncio.wait_for(listen(server), 60))
    ids = [m["t"] for m in got]
    stragglers = [m for m in got if market.is_straggler(m["t"])]
    assert stragglers and len(set(ids)) == len(ids)  # each trade once
    for m in stragglers:  # sent after trades stamped well after it: late on arrival
        assert any(o["T"] >= m["T"] + 500 for o in got[: got.index(m)])
    assert server.trades_sent >= len(got)  # the counter the soak compares with what the feed received


@pytest.mark.parametrize("rate", [50.0, 10_000 / 6])
def test_every_minute_ends_with_one_straggler_per_symbol(rate):
    market = Market.at_rate(rate, straggler_period_ms=10_000)
    minute = 60_000 * (market.now_ms() // 60_000)
    last_second = market.trades_between("BTC/USDT", minute - 1000, minute - 1)
    assert sum(market.is_straggler(t.id) for t in last_second) == 1
    whole = market.trades_between("BTC/USDT", minute - 60_000, minute - 1)
    assert sum(market.is_straggler(t.id) for t in whole) == 6  # one a 10 s
