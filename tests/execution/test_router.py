"""The router's split is the least-cost split: checked against brute force on small books."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.router import CexInput, PoolInput, pool_cost, route
from execution.venues.base import Side


def _walk(levels: np.ndarray, fee: float, side: Side, q: int, limit: float | None) -> float:
    cost, left = 0.0, q
    for price, amount in levels:
        if left == 0:
            break
        unit = price * (1 + fee) if side is Side.BUY else -price * (1 - fee)
        if limit is not None and (unit > limit if side is Side.BUY else -unit < limit):
            break
        take = min(left, int(amount))
        cost += take * unit
        left -= take
    return cost if left == 0 else math.inf


def _compositions(total: int, parts: int):
    if parts == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


def brute_force(side, qty, cex, pools, limit=None):
    """(amount, cost) of the best split found by trying every whole-lot allocation."""
    for total in range(qty, -1, -1):
        best = math.inf
        for alloc in _compositions(total, len(cex) + len(pools)):
            c = sum(_walk(b.levels, b.fee, side, a, limit) for b, a in zip(cex, alloc, strict=False))
            for p, a in zip(pools, alloc[len(cex) :], strict=True):
                if a:
                    pc = pool_cost(p, side, float(a))
                    avg_ok = limit is None or (
                        pc / a <= limit * (1 + 1e-12) if side is Side.BUY else -pc / a >= limit * (1 - 1e-12)
                    )
                    c += pc + p.gas_quote if avg_ok else math.inf
            best = min(best, c)
        if math.isfinite(best):
            return total, best
    return 0, 0.0


@st.composite
def markets(draw):
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    cex = []
    for v in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 4))
        steps = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n)))
        start = 100 + draw(st.floats(-1.0, 1.0))
        prices = start + np.cumsum(steps) if side is Side.BUY else start - np.cumsum(steps)
        amounts = np.array(draw(st.lists(st.integers(1, 4), min_size=n, max_size=n)), dtype=float)
        cex.append(
            CexInput(f"v{v}", np.column_stack([prices, amounts]), draw(st.sampled_from([0.0, 0.001, 0.003])))
        )
    pools = []
    for k in range(draw(st.integers(0, 2))):
        y = draw(st.floats(100.0, 2000.0))
        price = 100 * draw(st.floats(0.98, 1.02))
        pools.append(
            PoolInput(f"p{k}", y, y * price, draw(st.sampled_from([0.0005, 0.003])), draw(st.sampled_from([0.0, 5.0, 40.0])),
                      max_fraction=draw(st.sampled_from([0.01, 0.05])))
        )  # fmt: skip
    qty = draw(st.integers(1, 9))
    return side, qty, cex, pools


@settings(max_examples=150, deadline=None)
@given(markets())
def test_split_costs_the_same_as_the_brute_force_optimum(market):
    side, qty, cex, pools = market
    plan = route(side, float(qty), cex, pools, lot=1.0)
    amount, best = brute_force(side, qty, cex, pools)
    assert plan.amount == amount
    assert math.isclose(plan.cost, best, rel_tol=1e-9, abs_tol=1e-7), (plan, best)
    # the legs add up to the plan and each is a whole number of lots
    assert math.isclose(sum(leg.amount for leg in plan.legs), plan.amount)
    assert all(float(leg.amount).is_integer() for leg in plan.legs)
    assert math.isclose(sum(leg.cost for leg in plan.legs), plan.cost, rel_tol=1e-9, abs_tol=1e-7)


def test_a_limit_price_stops_the_walk_and_leaves_the_rest_unfilled():
    asks = np.array([[100.0, 2.0], [101.0, 2.0], [105.0, 5.0]])
    plan = route(Side.BUY, 6.0, [CexInput("a", asks, 0.0)], lot=1.0, limit_price=102.0)
    assert plan.amount == 4.0 and plan.cost == 2 * 100.0 + 2 * 101.0
    assert plan.legs[0].worst_price == 101.0


def test_gas_keeps_small_orders_off_the_pool_and_big_ones_use_it():
    asks = np.array([[100.0 + i * 0.5, 1.0] for i in range(20)])
    pool = PoolInput("pool", 1000.0, 100_000.0, 0.003, gas_quote=20.0)
    small = route(Side.BUY, 1.0, [CexInput("a", asks, 0.001)], [pool], lot=1.0)
    assert [leg.venue for leg in small.legs] == ["a"]
    big = route(Side.BUY, 15.0, [CexInput("a", asks, 0.001)], [pool], lot=1.0)
    assert {leg.venue for leg in big.legs} == {"a", "pool"}


def test_a_venue_with_an_empty_book_side_is_skipped_not_an_error():
    empty = np.zeros((0, 2))
    asks = np.array([[100.0, 2.0], [101.0, 2.0]])
    only_empty = route(Side.BUY, 1.0, [CexInput("a", empty, 0.001)], lot=1.0, limit_price=150.0)
    assert only_empty.amount == 0.0 and not only_empty.legs
    mixed = route(Side.BUY, 3.0, [CexInput("a", empty, 0.001), CexInput("b", asks, 0.001)], lot=1.0,
                  limit_price=150.0)  # fmt: skip
    assert mixed.amount == 3.0 and [leg.venue for leg in mixed.legs] == ["b"]
