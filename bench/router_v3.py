"""Router decisions with Uniswap V3 pools: 4 CEX venues x 50 levels + 2 V2 pools + 3 V3 pools of 50
initialised ticks each; and a split route over V2, V3 and a V2 fork against the best single pool.

Decisions are timed like ``bench router`` (on-CPU per decision, the service's regime: each book
snapshot read 32 times), beside the same numpy merge floor in the same run. The V3 pools are
built the way the venue builds them (:func:`execution.amm.concentrated.concentrated_input` from an
exact pool state), with 25 overlapping positions (50 initialised ticks) around the price.

The split row prices one trade two ways in the same run: routed over all the pools together
(1inch-style aggregation, which is what the router does) and on the single pool that does it
cheapest; the ratio is the best single pool's cost over the split's (above 1: the split is cheaper).
"""

from __future__ import annotations

import math

import numpy as np

from bench import Measure
from bench.router import READS_PER_SNAPSHOT, _books, _decide
from execution.amm.concentrated import ConcentratedPoolInput, concentrated_input
from execution.amm.v3 import V3Pool, sqrt_ratio_at_tick, tick_at_sqrt_ratio
from execution.router import PoolInput, route
from execution.venues.base import Side


def v3_pool(
    venue: str, price: float, base_depth: float, fee_pips: int, spacing: int, gas: float
) -> ConcentratedPoolInput:
    """A V3 pool at ``price`` (18/18 decimals) whose 25 positions, nested around the price, initialise
    50 ticks and hold about ``base_depth`` of base in range."""
    sqrt_price = int(math.sqrt(price) * 2**96)
    tick = tick_at_sqrt_ratio(sqrt_price)
    centre = tick // spacing * spacing
    total = int(base_depth * 10**18 * math.sqrt(price))  # L = virtual base reserve * sqrtP
    ticks: dict[int, int] = {}
    for k in range(1, 26):
        share = total // 25
        ticks[centre - k * spacing * 4] = ticks.get(centre - k * spacing * 4, 0) + share
        ticks[centre + k * spacing * 4] = ticks.get(centre + k * spacing * 4, 0) - share
    assert len(ticks) == 50 and sqrt_ratio_at_tick(centre) <= sqrt_price
    state = V3Pool(sqrt_price, tick, total // 25 * 25, fee_pips, spacing, ticks)
    return concentrated_input(venue, state, True, 18, 18, gas)


def _pools() -> tuple[list[PoolInput], list[ConcentratedPoolInput]]:
    v2 = [
        PoolInput("uni_v2", 300.0, 300 * 60_000.0, 0.003, 5.0),
        PoolInput("sushi_v2", 150.0, 150 * 60_050.0, 0.003, 5.0),  # a fork: same curve, its own pool
    ]
    v3 = [
        v3_pool("uni_v3_005", 59_990.0, 200.0, 500, 10, 6.0),
        v3_pool("uni_v3_030", 60_020.0, 400.0, 3000, 60, 6.0),
        v3_pool("uni_v3_100", 60_060.0, 100.0, 10000, 200, 6.0),
    ]
    return v2, v3


def run(quick: bool = False) -> list[Measure]:
    rng = np.random.default_rng(7)
    books = _books(rng, 64)
    v2, v3 = _pools()
    sizes = rng.choice([0.01, 0.1, 0.5, 1.0, 3.0, 8.0], size=61)
    n = 3_072 if quick else 20_480
    _, _, on_cpu, floor_cpu = _decide(books, [*v2, *v3], sizes, n, READS_PER_SNAPSHOT)
    rate, floor_rate = float(1 / on_cpu.mean()), float(1 / floor_cpu.mean())
    cpu99, floor99 = float(np.percentile(on_cpu, 99) * 1e3), float(np.percentile(floor_cpu, 99) * 1e3)
    regime = f"4 CEX x 50 levels + 2 V2 + 3 V3 pools of 50 ticks, each snapshot read {READS_PER_SNAPSHOT}x"
    cpu_floor = "numpy merge of the same levels, on-CPU (both sides timed with thread_time)"
    out = [
        Measure(f"router decisions/s on one core (on-CPU), {regime}", rate, "decisions/s",
                cpu_floor, floor_rate, rate / floor_rate, ">= 20000 decisions/s", bool(rate >= 20_000)),
        Measure(f"router decision p99 on-CPU, {regime}", cpu99, "ms", cpu_floor.replace("merge", "merge p99"),
                floor99, cpu99 / floor99, "<= 0.5 ms", bool(cpu99 <= 0.5)),
    ]  # fmt: skip
    pools = [*v2, *v3]
    for size in (5.0, 40.0):
        split = route(Side.BUY, size, [], pools, lot=1e-4)
        singles = [route(Side.BUY, size, [], [p], lot=1e-4) for p in pools]
        full = [s for s in singles if math.isclose(s.amount, size)]
        best = min(full, key=lambda s: s.cost)
        legs = ", ".join(sorted(leg.venue for leg in split.legs))
        out.append(
            Measure(
                f"split buy of {size:g} over V2, V2 fork and 3 V3 pools (legs: {legs}): cost",
                split.cost,
                "quote",
                f"best single pool ({best.legs[0].venue}) cost",
                best.cost,
                best.cost / split.cost,
                "ratio > 1 (the split is cheaper)",
                bool(best.cost > split.cost),
            )  # fmt: skip
        )
    return out
