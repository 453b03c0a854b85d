"""CEX venues: candles, trades and books obey the invariants a trader relies on."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from marketsim import MarketSimulator
from tests.marketsim.conftest import START, make_spec


def _frame(table: pa.Table) -> dict[str, np.ndarray]:
    return {c: table.column(c).to_numpy() for c in table.column_names}


def test_candles_are_ordered_and_have_volume(three_days) -> None:
    c = _frame(three_days["exchange_ohlcv"])
    assert len(c["open"]) == 3 * 1440 * 6  # 1m candles, 3 venues x 2 symbols, 3 days
    assert np.all(c["low"] <= np.minimum(c["open"], c["close"]))
    assert np.all(np.maximum(c["open"], c["close"]) <= c["high"])
    assert np.all(c["volume"] > 0)
    assert set(three_days["exchange_ohlcv"].column("timeframe").to_pylist()) == {"1m"}


def test_price_levels_are_realistic(three_days) -> None:
    ohlcv = three_days["exchange_ohlcv"]
    for symbol, (lo, hi) in {"BTC/USDT": (60_000, 110_000), "ETH/USDT": (2_000, 4_500)}.items():
        close = ohlcv.filter(pc.equal(ohlcv.column("symbol"), symbol)).column("close").to_numpy()
        assert lo < close.min() and close.max() < hi, symbol


def test_trades_lie_inside_their_candle_and_volume_covers_them(three_days) -> None:
    trades = three_days["exchange_trades"]
    minute = pc.floor_temporal(trades.column("ts"), unit="minute")
    per_minute = (
        pa.table(
            {
                "venue": trades["venue"],
                "symbol": trades["symbol"],
                "open_time": minute,
                "price": trades["price"],
                "amount": trades["amount"],
            }
        )
        .group_by(["venue", "symbol", "open_time"])
        .aggregate([("price", "max"), ("price", "min"), ("amount", "sum")])
    )
    joined = per_minute.join(three_days["exchange_ohlcv"], ["venue", "symbol", "open_time"])
    assert joined.num_rows == per_minute.num_rows  # every trade has its candle
    j = _frame(joined)
    assert np.all(j["price_max"] <= j["high"]) and np.all(j["price_min"] >= j["low"])
    assert np.all(j["amount_sum"] <= j["volume"] + 1e-9)


def test_trade_ids_are_unique_and_increase_with_time(three_days) -> None:
    trades = three_days["exchange_trades"]
    for venue in ("alpha", "charlie"):
        rows = trades.filter(
            pc.and_(pc.equal(trades["venue"], venue), pc.equal(trades["symbol"], "ETH/USDT"))
        )
        ids = np.array(rows.column("trade_id").to_pylist(), dtype=np.int64)
        ts = rows.column("ts").cast(pa.int64()).to_numpy()
        order = np.argsort(ids)
        assert len(np.unique(ids)) == len(ids)
        assert np.all(np.diff(ts[order]) >= 0)
        assert set(rows.column("side").to_pylist()) == {"buy", "sell"}


def test_takers_trade_at_the_touch(sim: MarketSimulator, three_days) -> None:
    trades = three_days["exchange_trades"].slice(0, 400)  # alpha BTC/USDT, the first trades of day 1
    half = sim.venue("alpha").spread_bps * 0.5e-4
    for row in trades.to_pylist():
        mid = sim.mid_price(row["venue"], row["symbol"], row["ts"])
        expected = mid * np.exp(half if row["side"] == "buy" else -half)
        assert abs(row["price"] - expected) <= 0.011, row  # within one tick (0.01) of mid ± half spread


def test_books_are_ordered_deepen_away_from_the_touch_and_match_point_queries(
    sim: MarketSimulator, three_days
) -> None:
    books = three_days["order_book_snapshots"]
    depth = sim.spec.book_depth
    assert books.num_rows == 3 * 288 * 6 * 2 * depth
    b = _frame(books)
    price = b["price"].reshape(-1, 2, depth)  # rows come as (snapshot, side, level)
    amount = b["amount"].reshape(-1, 2, depth)
    assert np.all(np.diff(price[:, 0], axis=1) < 0), "bids must fall strictly away from the touch"
    assert np.all(np.diff(price[:, 1], axis=1) > 0), "asks must rise strictly away from the touch"
    assert np.all(price[:, 0, 0] < price[:, 1, 0]), "best bid must be below best ask"
    assert np.all(amount > 0)
    mean_by_level = amount.mean(axis=(0, 1))
    assert np.all(np.diff(mean_by_level) > 0)
    # the stored snapshot is the paper venues' book at that instant
    for i in (0, 17, len(price) - 1):
        row = books.slice(i * 2 * depth, 1).to_pylist()[0]
        bids, asks = sim.order_book(row["venue"], row["symbol"], row["ts"])
        np.testing.assert_array_equal(bids, np.column_stack([price[i, 0], amount[i, 0]]))
        np.testing.assert_array_equal(asks, np.column_stack([price[i, 1], amount[i, 1]]))


def test_venues_disperse_a_little_around_the_fair_price(sim: MarketSimulator, three_days) -> None:
    ohlcv = three_days["exchange_ohlcv"]
    hours = [START + timedelta(days=1, hours=h) for h in range(0, 72, 3)]
    for symbol, asset in (("BTC/USDT", "BTC"), ("ETH/USDT", "ETH")):
        fair = np.log([sim.fair_price(asset, t) for t in hours])
        logs = []
        for venue in sim.venues:
            rows = ohlcv.filter(pc.and_(pc.equal(ohlcv["venue"], venue), pc.equal(ohlcv["symbol"], symbol)))
            opens = dict(
                zip(rows.column("open_time").to_pylist(), rows.column("open").to_numpy(), strict=True)
            )
            logs.append(np.log([opens[t] for t in hours]))
            dispersion = sim.venue(venue).dispersion_bps * 1e-4
            assert np.all(np.abs(logs[-1] - fair) < 6 * dispersion + 1e-6), (venue, symbol)
        # the venues' mean log price is the fair price (up to the tick): the consolidated close carries no venue noise
        np.testing.assert_allclose(np.mean(logs, axis=0), fair, atol=2e-7)


def test_coarser_timeframes_aggregate_the_minute_candles() -> None:
    day = (START + timedelta(days=2), START + timedelta(days=2, hours=6))
    minute = MarketSimulator(make_spec()).generate(*day, tables=["exchange_ohlcv"])["exchange_ohlcv"]
    five = MarketSimulator(make_spec(timeframe_seconds=300)).generate(*day, tables=["exchange_ohlcv"])[
        "exchange_ohlcv"
    ]
    assert set(five.column("timeframe").to_pylist()) == {"5m"}
    m = _frame(minute)
    f = _frame(five)
    np.testing.assert_array_equal(f["open"], m["open"].reshape(-1, 5)[:, 0])
    np.testing.assert_array_equal(f["close"], m["close"].reshape(-1, 5)[:, -1])
    np.testing.assert_array_equal(f["high"], m["high"].reshape(-1, 5).max(axis=1))
    np.testing.assert_array_equal(f["low"], m["low"].reshape(-1, 5).min(axis=1))
    np.testing.assert_allclose(f["volume"], m["volume"].reshape(-1, 5).sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("depth", [1, 3, 40])
def test_point_book_any_depth_keeps_the_top_levels(sim: MarketSimulator, depth: int) -> None:
    t = START + timedelta(days=2, hours=3, seconds=17.5)
    bids, asks = sim.order_book("bravo", "ETH/USDT", t, depth=depth)
    full_bids, full_asks = sim.order_book("bravo", "ETH/USDT", t, depth=40)
    assert bids.shape == asks.shape == (depth, 2)
    np.testing.assert_array_equal(bids, full_bids[:depth])
    np.testing.assert_array_equal(asks, full_asks[:depth])
    mid = sim.mid_price("bravo", "ETH/USDT", t)
    assert bids[0, 0] < mid < asks[0, 0]
