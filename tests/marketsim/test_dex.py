"""Constant-product pools: reserves, fees, and arbitrage that pulls the pool to the fair price."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marketsim import MarketSimulator, PoolSpec
from marketsim.wallets import UNISWAP_V2_ROUTER
from tests.marketsim.conftest import START, USDC_WETH, WBTC_USDC, make_spec


def _pool(table: pa.Table, pool: str) -> pa.Table:
    return table.filter(pc.equal(table["pool"], pool.lower())).sort_by(
        [("block_number", "ascending"), ("log_index", "ascending")]
    )


def test_each_swap_keeps_the_reserve_product_and_moves_reserves_by_its_amounts(three_days) -> None:
    for pool in (USDC_WETH, WBTC_USDC):
        res = _pool(three_days["dex_pool_reserves"], pool)
        swaps = _pool(three_days["dex_swaps"], pool)
        assert res.num_rows == swaps.num_rows > 300
        r0, r1 = res.column("reserve0").to_numpy(), res.column("reserve1").to_numpy()
        product = r0 * r1
        assert np.all(np.diff(product) >= 0), "a swap with a fee never lowers reserve0 * reserve1"
        assert product[-1] > product[0]  # fees accrue to the pool
        a0, a1 = swaps.column("amount0").to_numpy(), swaps.column("amount1").to_numpy()
        np.testing.assert_allclose(np.diff(r0), a0[1:], rtol=0, atol=1e-6 * np.abs(r0).max() * 1e-6)
        np.testing.assert_allclose(np.diff(r1), a1[1:], rtol=0, atol=1e-6 * np.abs(r1).max() * 1e-6)
        assert np.all(np.sign(a0) == -np.sign(a1)), "one token goes in, the other comes out"
        np.testing.assert_allclose(swaps.column("price").to_numpy(), r1 / r0, rtol=1e-15)
        np.testing.assert_allclose(res.column("price").to_numpy(), r1 / r0, rtol=1e-15)


def test_arbitrage_leaves_the_pool_exactly_at_the_fee_band(sim: MarketSimulator, three_days) -> None:
    # arbitrage swaps are the ones not sent through the router; each ends at fair * (1 - fee)^(+-1)
    swaps = _pool(three_days["dex_swaps"], WBTC_USDC)
    arbs = swaps.filter(pc.not_equal(swaps["sender"], UNISWAP_V2_ROUTER))
    noise = swaps.num_rows - arbs.num_rows
    assert arbs.num_rows > 200 and noise > 200
    band = -math.log(1 - 30e-4)
    for row in arbs.slice(0, 200).to_pylist():
        deviation = math.log(row["price"] / sim.fair_price("BTC", row["ts"]))
        assert abs(abs(deviation) - band) < 1e-6, row


def test_the_pool_tracks_the_venues_within_fee_band_and_lag(sim: MarketSimulator, three_days) -> None:
    band = -math.log(1 - 30e-4)
    ohlcv = three_days["exchange_ohlcv"]
    btc = ohlcv.filter(pc.equal(ohlcv["symbol"], "BTC/USDT"))
    minutes = btc.group_by("open_time").aggregate([("open", "mean")]).sort_by("open_time")
    deviations = []
    for row in minutes.to_pylist()[::7]:  # every 7th minute of three days
        pool = sim.pool_state(WBTC_USDC, row["open_time"])
        deviations.append(math.log(pool.price / row["open_mean"]))
    deviations = np.abs(deviations)
    # within the band most of the time; beyond it only by what moved since the last look (lag)
    assert np.mean(deviations <= band + 1e-4) > 0.8
    assert np.quantile(deviations, 0.99) < band + 0.004
    assert np.median(deviations) > band / 4  # not pinned to the venues: the fee band is real


def test_pool_state_is_the_last_sync_at_or_before_the_instant(sim: MarketSimulator, three_days) -> None:
    rows = _pool(three_days["dex_pool_reserves"], USDC_WETH).to_pylist()
    checked = 0
    for row, nxt in zip(rows[100:160], rows[101:161], strict=True):
        if nxt["ts"] == row["ts"]:
            continue  # two swaps in one block: the state at that instant is the later one
        for t in (row["ts"], nxt["ts"] - timedelta(microseconds=1)):
            state = sim.pool_state(USDC_WETH, t)
            assert (state.reserve0, state.reserve1) == (row["reserve0"], row["reserve1"])
        checked += 1
    assert checked > 40
    assert state.token0 == "USDC" and state.token1 == "WETH" and 2_000 < 1 / state.price < 4_500
    assert state.fee_bps == 30


def test_v3_pools_report_sqrt_price_and_tick_and_no_sync() -> None:
    spec = make_spec(pools=(PoolSpec(USDC_WETH, "USDC", "WETH", dex="uniswap_v3", fee_bps=5),))
    tables = MarketSimulator(spec).generate(START, START + timedelta(hours=6))
    swaps = tables["dex_swaps"]
    assert swaps.num_rows > 50 and tables["dex_pool_reserves"].num_rows == 0
    assert set(swaps.column("dex").to_pylist()) == {"uniswap_v3"}
    for row in swaps.slice(0, 20).to_pylist():
        raw_price = (int(row["sqrt_price_x96"]) / 2**96) ** 2
        assert math.isclose(raw_price / 10 ** (18 - 6), row["price"], rel_tol=1e-9)
        assert row["tick"] == math.floor(math.log(raw_price) / math.log(1.0001))
