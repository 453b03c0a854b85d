"""The candle fill model against hand-made candles: inside the candle's range, capped by its volume,
limits honoured, never before arrival, the same with the same seed."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from backtest.candle_fills import CandleFills, venue_fill_models
from backtest.fills import BacktestVenues, Latency, SimOrder
from backtest.market import Market
from execution.venues.matching import PaperVenueSpec
from kimera.config import BacktestCandles, ConfigError
from kimera.schema import RAW_TABLES, conform
from live.events import RawRows, Watermark
from tests.support.config import write_config

T0 = datetime(2026, 1, 1)
HOUR = timedelta(hours=1)
HOUR_US = 3_600_000_000
SYMBOL = "BTC/USDT"


def us(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)) / timedelta(microseconds=1))


def candle(open_time: datetime, o: float, h: float, low: float, c: float, v: float, tf: str = "1h") -> dict:
    return {"venue": "binance", "symbol": SYMBOL, "timeframe": tf, "open_time": open_time,
            "open": o, "high": h, "low": low, "close": c, "volume": v}  # fmt: skip


class Replay:
    """A market of candles replayed step by step (one step per hour), as the backtest's feed does."""

    def __init__(self, settings: BacktestCandles | None = None):
        self.market = Market()
        self.market.keep_candles = True
        spec = PaperVenueSpec(name="binance", symbols=(SYMBOL,), fee=0.001)
        self.venues = BacktestVenues(self.market, [spec], {}, 0.0, None)
        self.venues.candle_venues = {"binance"}
        self.venues.candles = CandleFills(self.market, settings or BacktestCandles())
        self.n = 0

    def order(self, side: str, amount: float, arrive: datetime | int, limit=None, tif="gtc") -> SimOrder:
        self.n += 1
        at = arrive if isinstance(arrive, int) else us(arrive)
        o = SimOrder(f"o{self.n}", f"d{self.n}", "binance", SYMBOL, side, amount, limit, tif, at, at, 100.0)
        self.venues.place(o)
        return o

    def step(self, until: datetime, candles: list[dict]) -> None:
        if candles:
            self.market.observe(RawRows("exchange_ohlcv", conform(RAW_TABLES["exchange_ohlcv"], pa.Table.from_pylist(candles))))  # fmt: skip
        self.market.observe(Watermark(until))
        self.venues.advance(us(until))


def test_no_candle_fill_is_outside_the_candles_low_high_even_with_a_wide_spread_and_impact():
    rng = np.random.default_rng(3)
    replay = Replay(BacktestCandles(spread_bps=400.0, impact_bps=2000.0, participation=0.5))
    ranges = {}
    price = 100.0
    for h in range(48):
        opened = T0 + h * HOUR
        o = price
        c = o * float(np.exp(rng.normal(0, 0.01)))
        hi, lo = max(o, c) * (1 + abs(rng.normal(0, 0.004))), min(o, c) * (1 - abs(rng.normal(0, 0.004)))
        ranges[us(opened)] = (lo, hi)
        for _ in range(3):
            replay.order(
                str(rng.choice(["buy", "sell"])),
                float(rng.uniform(0.1, 20)),
                opened + timedelta(milliseconds=40),
            )
        replay.step(opened + HOUR, [candle(opened, o, hi, lo, c, 100.0)])
        price = c
    fills = replay.venues.fills
    assert len(fills) > 100
    for f in fills:
        lo, hi = ranges[f.ts // HOUR_US * HOUR_US]  # the candle the fill is on
        assert lo - 1e-9 <= f.price <= hi + 1e-9, (f, lo, hi)
    # the spread and impact asked for more than the range: the clamp is what held the price
    assert any(abs(f.price - ranges[f.ts // HOUR_US * HOUR_US][1]) < 1e-9 for f in fills if f.side == "buy")


def test_the_participation_cap_fills_a_large_order_partially_over_the_next_candles():
    minute = timedelta(minutes=1)
    candles = [candle(T0 + i * minute, 100 + i, 101 + i, 99 + i, 100 + i, 10.0, "1m") for i in range(5)]
    replay = Replay(BacktestCandles(participation=0.1, spread_bps=0.0, impact_bps=0.0))
    big = replay.order("buy", 2.5, T0 + timedelta(milliseconds=30))
    late = replay.order("buy", 0.5, T0 + timedelta(milliseconds=60))
    replay.step(T0 + HOUR, candles)
    # 10 % of each candle's 10 traded: 1 + 1 + 0.5, at each candle's open in turn
    assert [(f.price, round(f.amount, 9)) for f in replay.venues.fills if f.order_id == big.order_id] == [
        (100.0, 1.0), (101.0, 1.0), (102.0, 0.5)
    ]  # fmt: skip
    assert big.status == "filled"
    # the second order shares the cap: it gets what the first left (0.5 of the third candle), then the fourth
    assert [(f.price, round(f.amount, 9)) for f in replay.venues.fills if f.order_id == late.order_id] == [
        (102.0, 0.5)
    ]  # fmt: skip
    per_candle: dict[int, float] = {}
    for f in replay.venues.fills:
        per_candle[f.ts // 60_000_000] = per_candle.get(f.ts // 60_000_000, 0.0) + f.amount
    assert max(per_candle.values()) <= 1.0 + 1e-9  # never more than participation x traded

    ioc_replay = Replay(BacktestCandles(participation=0.1, spread_bps=0.0, impact_bps=0.0))
    ioc = ioc_replay.order("sell", 2.5, T0 + timedelta(milliseconds=30), tif="ioc")
    ioc_replay.step(T0 + HOUR, candles)
    assert ioc.status == "partial" and round(ioc.filled, 9) == 1.0
    assert ioc.reason == "IOC remainder cancelled: participation cap of 10% of the candle's volume"


def test_a_limit_the_candle_does_not_cross_never_fills_and_one_it_crosses_fills_at_the_limit():
    replay = Replay()
    low_bid = replay.order("buy", 0.5, T0 + timedelta(milliseconds=30), limit=98.0)
    high_ask = replay.order("sell", 0.5, T0 + timedelta(milliseconds=30), limit=103.0)
    crossed = replay.order("buy", 0.5, T0 + timedelta(milliseconds=30), limit=99.5)
    for h in range(24):
        opened = T0 + h * HOUR
        replay.step(opened + HOUR, [candle(opened, 100.0, 102.0, 98.0 if h % 2 else 99.0, 100.0, 50.0)])
    # a low touching 98.0 exactly (the odd hours) is not a cross: nothing traded below the bid
    assert low_bid.filled == 0 and high_ask.filled == 0
    assert low_bid.status == high_ask.status == "resting"
    assert crossed.status == "filled" and {f.price for f in replay.venues.fills} == {99.5}


def test_an_order_decided_at_a_bars_close_fills_on_the_next_candle_never_at_the_signal_close():
    replay = Replay(BacktestCandles(spread_bps=0.0, impact_bps=0.0))
    # the signal bar [T0, T0+1h) closes at 90; the next candle opens at 110
    replay.step(T0 + HOUR, [candle(T0, 100.0, 100.0, 90.0, 90.0, 100.0)])
    decided = T0 + HOUR
    arrives = us(decided) + 50_000
    o = replay.order("buy", 1.0, arrives)
    on_close = replay.order("sell", 1.0, us(decided + HOUR))  # arrives exactly at the next candle's close
    replay.step(decided + HOUR, [candle(decided, 110.0, 112.0, 108.0, 111.0, 100.0)])
    assert o.average_price == 110.0 and all(f.price != 90.0 for f in replay.venues.fills)
    assert all(f.ts >= arrives for f in replay.venues.fills if f.order_id == o.order_id)
    assert on_close.filled == 0  # the candle it arrived at the close of is not used...
    replay.step(decided + 2 * HOUR, [candle(decided + HOUR, 120.0, 121.0, 119.0, 120.0, 100.0)])
    assert on_close.average_price == 120.0  # ...the next one is


def _run(seed: int) -> list[tuple]:
    replay = Replay()
    latency = Latency(seed)
    for h in range(12):
        opened = T0 + h * HOUR
        arrive = us(opened) + latency.sample_us(0.05)
        replay.order("buy" if h % 2 else "sell", 7.0, arrive, tif="ioc")
        replay.step(opened + HOUR, [candle(opened, 100 + h, 102 + h, 99 + h, 101 + h, 40.0)])
    return [(f.order_id, f.ts, f.price, f.amount, f.fee) for f in replay.venues.fills]


def test_the_same_seed_gives_the_same_fills_and_another_seed_other_arrival_times():
    first, again, other = _run(11), _run(11), _run(12)
    assert first and first == again
    assert [f[1] for f in first] != [f[1] for f in other]


def test_a_venue_with_books_fills_on_its_books_and_one_with_only_candles_on_candles(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.exchange_ohlcv (venue varchar, open_time timestamp)")
        con.execute("create table raw.order_book_snapshots (venue varchar, ts timestamp)")
        con.execute(
            "insert into raw.exchange_ohlcv values ('alpha', '2026-01-01'), ('binance', '2026-01-01')"
        )
        con.execute("insert into raw.order_book_snapshots values ('alpha', '2026-01-01 00:05')")
        assert venue_fill_models(con, T0, T0 + HOUR) == {"alpha": "book", "binance": "candles"}
        assert venue_fill_models(con, T0 + HOUR, T0 + 2 * HOUR) == {}


def test_a_participation_beyond_the_whole_candle_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError) as refused:
        write_config(tmp_path / "k.yaml", backtest={"candles": {"participation": 1.5}})
    assert "backtest.candles.participation" in str(refused.value)
    assert not (tmp_path / "k.yaml").exists()
