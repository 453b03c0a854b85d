"""Router decisions per second on one core: 4 CEX venues x 50 levels + 2 AMM pools.

Baseline (a floor, not a peer): merely merging the same levels with numpy (concatenate, argsort,
cumsum) in the same run; the ratio says how close a full decision gets to that floor.
"""

from __future__ import annotations

import time

import numpy as np

from bench import Measure
from execution.router import CexInput, PoolInput, route
from execution.venues.base import Side


def _books(rng: np.random.Generator, n: int) -> list[tuple[list[CexInput], list[CexInput]]]:
    """n snapshots of (asks, bids) for four venues."""
    out = []
    fees = [0.001, 0.0008, 0.002, 0.001]
    for _ in range(n):
        asks, bids = [], []
        for v in range(4):
            mid = 60_000 * (1 + rng.normal() * 2e-4)
            steps = 1e-4 + np.arange(50) * 0.5e-4
            asks.append(
                CexInput(
                    f"v{v}",
                    np.column_stack([mid * (1 + steps), np.round(rng.uniform(0.05, 1.5, 50), 5)]),
                    fees[v],
                )
            )
            bids.append(
                CexInput(
                    f"v{v}",
                    np.column_stack([mid * (1 - steps), np.round(rng.uniform(0.05, 1.5, 50), 5)]),
                    fees[v],
                )
            )
        out.append((asks, bids))
    return out


def run(quick: bool = False) -> list[Measure]:
    rng = np.random.default_rng(7)
    books = _books(rng, 64)
    pools = [
        PoolInput("pool_a", 300.0, 300 * 60_000.0, 0.003, 5.0),
        PoolInput("pool_b", 150.0, 150 * 60_050.0, 0.0005, 5.0),
    ]
    sizes = rng.choice([0.01, 0.1, 0.5, 1.0, 3.0, 8.0], size=64)  # from one level to deep into every book
    n = 3_000 if quick else 20_000
    ours, floor, on_cpu = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):  # interleaved, so both see the same machine
        side = Side.BUY if i % 2 else Side.SELL
        b = books[i % 64][0 if side is Side.BUY else 1]
        c0, t0 = time.thread_time(), time.perf_counter()
        route(side, float(sizes[i % 64]), b, pools, lot=1e-5)
        t1, c1 = time.perf_counter(), time.thread_time()
        on_cpu[i] = c1 - c0
        levels = np.concatenate([c.levels for c in b])
        order = levels[:, 0].argsort(kind="stable")
        levels[order, 1].cumsum()
        t2 = time.perf_counter()
        ours[i], floor[i] = t1 - t0, t2 - t1
    rate, floor_rate = float(1 / ours.mean()), float(1 / floor.mean())
    p99, floor_p99 = float(np.percentile(ours, 99) * 1e3), float(np.percentile(floor, 99) * 1e3)
    cpu99 = float(np.percentile(on_cpu, 99) * 1e3)
    return [
        Measure("router decisions/s (4x50 levels + 2 pools)", rate, "decisions/s", "numpy merge of the same levels",
                floor_rate, rate / floor_rate, ">= 20000 decisions/s", bool(rate >= 20_000)),
        Measure("router decision p99, on-CPU time", cpu99, "ms", "numpy merge p99", floor_p99, cpu99 / floor_p99,
                "<= 0.5 ms", bool(cpu99 <= 0.5)),
        Measure("router decision p99, wall clock (includes preemption)", p99, "ms", "numpy merge p99", floor_p99,
                p99 / floor_p99, "<= 0.5 ms", bool(p99 <= 0.5)),
    ]  # fmt: skip
