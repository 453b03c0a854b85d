"""The router prices V3 pools across their initialised ticks and routes over CEX books, V2 and V3."""

from __future__ import annotations

import numpy as np
import pytest

from execution.amm.concentrated import concentrated_input
from execution.amm.v3 import quote_exact_input, quote_exact_output
from execution.amm.v3_state import read_pool
from execution.router import CexInput, PoolInput, pool_cost, route
from execution.venues.base import Side
from tests.execution.amm.conftest import V3World

ONE = 10**18


@pytest.fixture(scope="module")
def v3_pools(_v3_chain: V3World):
    """The three fee tiers' minted states as read from the chain (token0 is the base, token1 the quote);
    read once: these tests only quote, and every other test reverts what it trades."""
    return {fee: read_pool(_v3_chain.evm.w3, pool.address, words=4) for fee, pool in _v3_chain.pools.items()}


@pytest.mark.parametrize("fee", [500, 3000, 10000])
@pytest.mark.parametrize("amount", [0.5, 400.0, 900.0])
def test_the_routers_v3_cost_is_the_pools_exact_quote(v3_pools, fee: int, amount: float) -> None:
    state = v3_pools[fee]
    pool = concentrated_input("v3", state, True, 18, 18, gas_quote=0.0)
    if amount == 900.0:  # across ticks on both sides
        assert amount > pool.buy.cap[0] and amount > pool.sell.cap[0]
    wei = int(amount * ONE)
    paid = quote_exact_output(state, False, wei)  # buy base (token0) with quote (token1)
    received = quote_exact_input(state, True, wei)  # sell base into the pool
    assert pool_cost(pool, Side.BUY, amount) == pytest.approx(paid / ONE, rel=1e-9)
    assert -pool_cost(pool, Side.SELL, amount) == pytest.approx(received / ONE, rel=1e-9)


def test_the_routers_v3_price_rises_by_tick_not_by_one_curve(v3_pools) -> None:
    """Concentrated liquidity is deeper near the price than a constant-product pool of the same
    in-range liquidity: the cost runs along each range, then jumps to the next one's liquidity."""
    state = v3_pools[3000]
    pool = concentrated_input("v3", state, True, 18, 18, gas_quote=0.0)
    assert len(pool.buy.cap) >= 3 and len(pool.sell.cap) >= 3
    first_tick_range = pool.buy.cap[0]
    beyond = first_tick_range * 1.5
    crossed = quote_exact_output(state, False, int(beyond * ONE)) / ONE
    one_curve = pool.buy.quote[0] * beyond / ((pool.buy.base[0] - beyond) * (1 - 0.003))
    assert pool_cost(pool, Side.BUY, beyond) == pytest.approx(crossed, rel=1e-9)
    assert abs(one_curve - crossed) > 1e-6 * crossed


def test_a_route_over_cex_v2_and_v3_beats_every_single_venue_and_prices_v3_legs_on_their_ticks(
    v3_pools,
) -> None:
    book = np.array([[1.0 + 0.0005 * i, 40.0] for i in range(50)])  # asks
    cex = [CexInput("binance", book, 0.001)]
    v2 = PoolInput("uni_v2", 50_000.0, 50_000.0, 0.003, gas_quote=0.5, max_fraction=0.2)
    v3 = [concentrated_input(f"uni_v3_{fee}", s, True, 18, 18, gas_quote=0.8) for fee, s in v3_pools.items()]
    plan = route(Side.BUY, 4_000.0, cex, [v2, *v3], lot=0.01)
    assert plan.amount == pytest.approx(4_000.0)
    venues = {leg.venue: leg for leg in plan.legs}
    assert {"binance", "uni_v3_500"} <= set(venues)
    singles = [route(Side.BUY, 4_000.0, [], [p], lot=0.01) for p in v3 + [v2]] + [
        route(Side.BUY, 4_000.0, cex, [], lot=0.01)
    ]
    best_single = min(s.cost for s in singles if s.amount == pytest.approx(4_000.0))
    assert plan.cost < best_single
    for leg in plan.legs:
        if leg.kind == "amm" and leg.venue.startswith("uni_v3"):
            pool = next(p for p in v3 if p.venue == leg.venue)
            assert leg.cost == pytest.approx(
                pool_cost(pool, Side.BUY, leg.amount) + pool.gas_quote, rel=1e-12
            )


def test_selling_routes_into_v3_pools_too(v3_pools) -> None:
    bids = np.array([[1.0 - 0.0005 * i, 40.0] for i in range(50)])
    v3 = [concentrated_input(f"uni_v3_{fee}", s, True, 18, 18, gas_quote=0.8) for fee, s in v3_pools.items()]
    plan = route(Side.SELL, 2_500.0, [CexInput("binance", bids, 0.001)], v3, lot=0.01)
    assert plan.amount == pytest.approx(2_500.0)
    received = -plan.cost
    exact = sum(
        quote_exact_input(
            v3_pools[int(leg.venue.rsplit("_", 1)[1])], True, int(round(leg.amount * 100)) * 10**16
        )
        / ONE
        - 0.8
        for leg in plan.legs
        if leg.kind == "amm"
    )
    cex_part = sum(-leg.cost for leg in plan.legs if leg.kind == "cex")
    assert received == pytest.approx(exact + cex_part, rel=1e-9)
