"""Candles from trades on exchange time: every timeframe, late trades, quiet minutes, gaps, skew."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from live.bars import CandleBuilder, ExchangeTime

T0 = datetime(2026, 3, 1)


def joined(step: timedelta, venue: str, symbol: str, close: float = 100.0) -> CandleBuilder:
    """A builder whose stream joined in the candle before T0 (a stream's first candle is partial and
    never emitted), so the candle at T0 is its first whole one."""
    builder = CandleBuilder(step)
    builder.add_trade(venue, symbol, T0 - step / 2, close, 1.0)
    assert candles(builder.close_until(T0)) == []
    return builder


def candles(table) -> list[tuple]:
    return [
        (r["open_time"], r["open"], r["high"], r["low"], r["close"], r["volume"], r["timeframe"])
        for r in table.to_pylist()
    ]


@pytest.mark.parametrize(
    ("step", "text"),
    [
        (timedelta(minutes=1), "1m"),
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=15), "15m"),
        (timedelta(minutes=30), "30m"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=4), "4h"),
        (timedelta(days=1), "1d"),
    ],
)
def test_a_candle_closes_on_exchange_time_at_every_timeframe(step, text):
    builder = joined(step, "binance", "BTC/USDT")
    builder.add_trade("binance", "BTC/USDT", T0 + step / 4, 100.0, 1.0)
    builder.add_trade("binance", "BTC/USDT", T0 + step / 2, 104.0, 2.0)
    builder.add_trade("binance", "BTC/USDT", T0 + step - timedelta(microseconds=1), 99.0, 0.5)
    builder.add_trade("binance", "BTC/USDT", T0 + step, 101.0, 3.0)  # next candle's first trade
    assert candles(builder.close_until(T0 + step - timedelta(microseconds=1))) == []  # not closed yet
    assert candles(builder.close_until(T0 + step)) == [(T0, 100.0, 104.0, 99.0, 99.0, 3.5, text)]
    assert candles(builder.close_until(T0 + 2 * step))[0][1:5] == (101.0, 101.0, 101.0, 101.0)


def test_a_late_trade_is_counted_and_never_revises_a_handed_on_candle():
    builder = joined(timedelta(minutes=1), "v", "BTC/USDT")
    builder.add_trade("v", "BTC/USDT", T0 + timedelta(seconds=10), 100.0, 1.0)
    first = candles(builder.close_until(T0 + timedelta(minutes=1)))
    assert builder.add_trade("v", "BTC/USDT", T0 + timedelta(seconds=50), 200.0, 9.0) is False
    assert builder.late_trades == 1
    assert first == [(T0, 100.0, 100.0, 100.0, 100.0, 1.0, "1m")]
    assert candles(builder.close_until(T0 + timedelta(minutes=2)))[0][1:6] == (
        100.0,
        100.0,
        100.0,
        100.0,
        0.0,
    )


def test_quiet_minutes_are_flat_at_the_last_close_and_gaps_are_never_invented():
    builder = joined(timedelta(minutes=1), "v", "ETH/USDT")
    builder.add_trade("v", "ETH/USDT", T0, 10.0, 1.0)
    builder.mark_gap("v", "ETH/USDT", T0 + timedelta(minutes=2), T0 + timedelta(minutes=3))
    out = candles(builder.close_until(T0 + timedelta(minutes=4)))
    assert [c[0] for c in out] == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)]
    assert out[1][5] == 0.0  # the quiet minute: flat, no volume


def test_exchange_time_corrects_a_host_clock_running_ahead():
    clock = ExchangeTime()
    skew = timedelta(minutes=3)
    for i in range(5):
        exchange_ts = T0 + timedelta(seconds=i)
        clock.observe(exchange_ts, exchange_ts + skew + timedelta(milliseconds=5 + i))
    local = T0 + timedelta(seconds=10) + skew
    assert clock.now(local) == T0 + timedelta(seconds=10) - timedelta(milliseconds=5)
    builder = joined(timedelta(minutes=1), "v", "BTC/USDT")
    builder.add_trade("v", "BTC/USDT", T0 + timedelta(seconds=5), 1.0, 1.0)
    assert candles(builder.close_until(clock.now(local))) == []  # the host's +3 min closes nothing


def test_the_candle_a_stream_joins_midway_is_never_emitted():
    builder = CandleBuilder(timedelta(minutes=1))
    builder.add_trade("v", "BTC/USDT", T0 + timedelta(seconds=40), 100.0, 1.0)  # joined 40 s in
    builder.add_trade("v", "BTC/USDT", T0 + timedelta(seconds=70), 101.0, 2.0)
    out = candles(builder.close_until(T0 + timedelta(minutes=2)))
    assert out == [(T0 + timedelta(minutes=1), 101.0, 101.0, 101.0, 101.0, 2.0, "1m")]


def test_a_timeframe_that_does_not_divide_a_day_is_refused():
    with pytest.raises(ValueError, match="must divide a day"):
        CandleBuilder(timedelta(minutes=7))
