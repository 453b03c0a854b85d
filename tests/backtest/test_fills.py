"""The fill model against a hand-made market: only quoted or traded prices, depth, queue, pools, gas."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from backtest.fills import BacktestVenues, Latency, PoolRef, SimOrder
from backtest.market import Market
from execution.venues.matching import PaperVenueSpec
from kimera.schema import RAW_TABLES, conform
from live.events import RawRows, Watermark

T0 = datetime(2026, 1, 1)
POOL = "0xpool"


def us(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)) / timedelta(microseconds=1))


def rows(table: str, records: list[dict]) -> RawRows:
    return RawRows(table, conform(RAW_TABLES[table], pa.Table.from_pylist(records)))


def book(ts: datetime, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> RawRows:
    records = [
        {"venue": "alpha", "symbol": "ETH/USDT", "ts": ts, "side": side, "level": i, "price": p, "amount": a}
        for side, levels in (("bid", bids), ("ask", asks))
        for i, (p, a) in enumerate(levels)
    ]
    return rows("order_book_snapshots", records)


def trades(items: list[tuple[datetime, str, float, float]]) -> RawRows:
    return rows(
        "exchange_trades",
        [
            {
                "venue": "alpha",
                "symbol": "ETH/USDT",
                "trade_id": str(i),
                "ts": ts,
                "side": side,
                "price": p,
                "amount": a,
            }
            for i, (ts, side, p, a) in enumerate(items)
        ],
    )


def venues(market: Market) -> BacktestVenues:
    specs = [
        PaperVenueSpec(name="alpha", symbols=("ETH/USDT",), fee=0.001),
        PaperVenueSpec(name="pool", kind="amm", symbols=("ETH/USDT",), fee=0.003, pools={"ETH/USDT": POOL}),
    ]
    return BacktestVenues(market, specs, {"pool": PoolRef(POOL, base_is_token0=True)}, 100_000.0, "ETH/USDT")


def order(side: str, amount: float, limit: float | None, tif: str = "ioc", venue: str = "alpha", at=T0):
    t = us(at)
    return SimOrder("o1", "d1", venue, "ETH/USDT", side, amount, limit, tif, t, t + 20_000, 3000.0)


def test_a_market_buy_walks_the_book_and_fills_partially_where_the_depth_runs_out():
    market = Market()
    market.observe(book(T0, [(2999.0, 1.0)], [(3001.0, 0.5), (3002.0, 0.7), (3010.0, 5.0)]))
    v = venues(market)
    o = order("buy", 2.0, limit=3005.0)
    v.place(o)
    v.advance(us(T0 + timedelta(minutes=1)))
    assert [(f.price, round(f.amount, 9)) for f in v.fills] == [(3001.0, 0.5), (3002.0, 0.7)]
    assert o.status == "partial" and round(o.filled, 9) == 1.2
    assert o.fee == pytest.approx((3001.0 * 0.5 + 3002.0 * 0.7) * 0.001)
    # the liquidity taken stays taken until the next snapshot: a second buy finds only the deep level
    o2 = SimOrder("o2", "d2", "alpha", "ETH/USDT", "buy", 1.0, None, "ioc", us(T0), us(T0) + 30_000, 3000.0)
    v.place(o2)
    v.advance(us(T0 + timedelta(minutes=1)))
    assert [f.price for f in v.fills[2:]] == [3010.0]


def test_an_order_matches_the_newest_snapshot_at_its_arrival_not_a_later_one():
    market = Market()
    market.observe(book(T0, [(2999.0, 1.0)], [(3001.0, 1.0)]))
    market.observe(book(T0 + timedelta(seconds=1), [(2899.0, 1.0)], [(2901.0, 1.0)]))
    v = venues(market)
    o = order("buy", 0.5, limit=None)  # arrives 20 ms after T0: the T0 book, not the one a second later
    v.place(o)
    v.advance(us(T0 + timedelta(minutes=1)))
    assert [f.price for f in v.fills] == [3001.0]


def test_a_resting_order_waits_behind_the_displayed_size_and_only_trades_at_its_price_advance_it():
    market = Market()
    market.observe(book(T0, [(2999.0, 1.0), (2998.0, 3.0)], [(3001.0, 1.0)]))
    v = venues(market)
    o = order("buy", 0.5, limit=2999.0, tif="gtc")
    v.place(o)
    v.advance(us(T0 + timedelta(seconds=1)))
    assert o.status == "resting" and o.queue_ahead == pytest.approx(1.0) and not v.fills
    s = T0 + timedelta(seconds=5)
    market.observe(Watermark(s))
    market.observe(
        trades(
            [
                (s, "sell", 3000.0, 5.0),  # above our bid: another level's trade, no queue move
                (s + timedelta(seconds=1), "buy", 2999.0, 4.0),  # a buyer: it cannot hit our bid
                (s + timedelta(seconds=2), "sell", 2999.0, 0.8),  # eats 0.8 of the 1.0 ahead of us
                (s + timedelta(seconds=3), "sell", 2999.0, 0.5),  # 0.2 ahead, then 0.3 to us
            ]
        )
    )
    v.advance(us(s + timedelta(seconds=10)))
    assert [(f.price, round(f.amount, 9), f.liquidity) for f in v.fills] == [(2999.0, 0.3, "maker")]
    assert o.status == "resting" and round(o.remaining, 9) == 0.2


def test_a_swap_fills_on_the_constant_product_curve_of_that_block_and_pays_gas_at_its_base_fee():
    market = Market()
    market.observe(book(T0, [(2999.0, 1.0)], [(3001.0, 1.0)]))
    reserves = [
        {"chain": "ethereum", "dex": "uniswap_v2", "pool": POOL, "block_number": b, "block_hash": "h", "log_index": 0,
         "ts": T0 - timedelta(seconds=12 * (2 - b)), "reserve0": r0, "reserve1": r0 * 3000.0, "price": 3000.0}
        for b, r0 in ((1, 1000.0), (2, 2000.0))
    ]  # fmt: skip
    market.observe(rows("dex_pool_reserves", reserves))
    blocks = [
        {"chain": "ethereum", "block_number": b, "block_hash": "h", "parent_hash": "p", "ts": ts, "tx_count": 1,
         "active_addresses": 1, "gas_used": 1, "gas_limit": 2, "base_fee_gwei": fee}
        for b, ts, fee in ((1, T0 - timedelta(seconds=24), 10.0), (2, T0 - timedelta(seconds=12), 20.0))
    ]  # fmt: skip
    market.observe(rows("chain_blocks", blocks))
    v = venues(market)
    o = order("buy", 10.0, limit=3100.0, venue="pool")
    v.place(o)
    v.advance(us(T0 + timedelta(minutes=1)))
    base, quote = 2000.0, 6_000_000.0  # block 2's reserves: the newest at the order's arrival
    paid = quote * 10.0 / ((base - 10.0) * (1 - 0.003))
    (fill,) = v.fills
    assert fill.price == pytest.approx(paid / 10.0) and fill.block == 2
    assert fill.gas == pytest.approx(100_000 * 20.0 * 1e-9 * 3000.0)  # at block 2's base fee, ETH at its mid
    # a bound the curve does not reach: nothing fills
    tight = SimOrder("o9", "d9", "pool", "ETH/USDT", "buy", 10.0, 3001.0, "ioc", us(T0), us(T0) + 1, 3000.0)
    v.place(tight)
    v.advance(us(T0 + timedelta(minutes=1)))
    assert tight.status == "cancelled" and "beyond the bound" in tight.reason and len(v.fills) == 1


def test_an_order_with_no_book_before_its_arrival_is_rejected_not_filled_at_an_invented_price():
    market = Market()
    market.observe(book(T0 + timedelta(minutes=5), [(2999.0, 1.0)], [(3001.0, 1.0)]))
    v = venues(market)
    o = order("buy", 0.5, limit=None)
    v.place(o)
    v.advance(us(T0 + timedelta(minutes=10)))
    assert o.status == "rejected" and "no book" in o.reason and not v.fills


def test_latency_is_seeded():
    a, b, c = Latency(1), Latency(1), Latency(2)
    draws = [[x.sample_us(0.05) for _ in range(5)] for x in (a, b, c)]
    assert draws[0] == draws[1] != draws[2]
    assert all(40_000 <= d <= 60_000 for d in draws[0])
    measured = Latency(3, p50_ms=10.0, p99_ms=40.0)
    samples = sorted(measured.sample_us(0.05) for _ in range(2000))
    assert 8_000 < samples[1000] < 12_000  # the measured median, not the venue's published 50 ms
