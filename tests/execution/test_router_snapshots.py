"""Read-only books are immutable snapshots the router consolidates once and reuses: the plans it
makes from them are the same plans (and the same brute-force optimum) as from fresh books."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings

from execution.router import CexInput, PoolInput, route
from execution.venues.base import Side
from tests.execution.test_router import brute_force, markets


def _snapshot(cex: list[CexInput]) -> list[CexInput]:
    out = []
    for c in cex:
        levels = c.levels.copy()
        levels.flags.writeable = False
        out.append(CexInput(c.venue, levels, c.fee))
    return out


def _same_plan(a, b) -> None:
    assert a.amount == b.amount
    assert math.isclose(a.cost, b.cost, rel_tol=1e-12, abs_tol=1e-9)
    assert [(leg.venue, leg.kind, leg.amount) for leg in a.legs] == [
        (leg.venue, leg.kind, leg.amount) for leg in b.legs
    ]
    for x, y in zip(a.legs, b.legs, strict=True):
        assert x.worst_price == y.worst_price  # the limit price sent to the venue comes from it
        assert math.isclose(x.cost, y.cost, rel_tol=1e-12, abs_tol=1e-9)


@settings(max_examples=100, deadline=None)
@given(markets())
def test_a_snapshot_routes_like_a_fresh_book_and_stays_optimal(market):
    side, qty, cex, pools = market
    snapshot = _snapshot(cex)
    fresh = route(side, float(qty), cex, pools, lot=1.0)
    for _ in range(2):  # the second decision reads the consolidated book the first one made
        again = route(side, float(qty), snapshot, pools, lot=1.0)
        _same_plan(again, fresh)
    amount, best = brute_force(side, qty, cex, pools)
    assert again.amount == amount and math.isclose(again.cost, best, rel_tol=1e-9, abs_tol=1e-7)
    # a limit applies to a snapshot as it does to a fresh book
    limit = float(cex[0].levels[0, 0]) * (1.001 if side is Side.BUY else 0.999)
    _same_plan(route(side, float(qty), snapshot, pools, lot=1.0, limit_price=limit),
               route(side, float(qty), cex, pools, lot=1.0, limit_price=limit))  # fmt: skip


def test_a_new_snapshot_is_never_answered_from_an_old_one():
    rng = np.random.default_rng(3)
    pool = PoolInput("pool", 1000.0, 100_000.0, 0.003, gas_quote=1.0)
    for i in range(200):  # old snapshots are dropped as new ones come, as the service's books are
        asks = np.column_stack(
            [100.0 + np.cumsum(rng.uniform(0.01, 1.0, 5)), rng.integers(1, 4, 5).astype(float)]
        )
        fresh = [CexInput("a", asks, 0.001), CexInput("b", asks + [[0.3, 0.0]], 0.002)]
        snapshot = _snapshot(fresh)
        _same_plan(route(Side.BUY, float(1 + i % 7), snapshot, [pool], lot=1.0),
                   route(Side.BUY, float(1 + i % 7), fresh, [pool], lot=1.0))  # fmt: skip
        del snapshot, fresh
