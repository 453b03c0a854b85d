"""Router decisions per second on one core: 4 CEX venues x 50 levels + 2 AMM pools.

Two regimes, each decision timed on-CPU (``thread_time``: what one core spends, whatever else the
machine runs) and on the wall clock (which adds preemption by other processes):

- the service's: books are read-only snapshots that the market-data task replaces a few times a
  second while decisions arrive by the hundred, so each snapshot is read by several decisions (here
  32: 500 signals/s over 2 assets and both sides, books refreshed 4 times a second) and the router
  consolidates it once;
- cold: a new book for every decision (nothing reused), the worst case.

Baseline (a floor, not a peer): merely merging the same levels with numpy (concatenate, argsort,
cumsum) in the same run, interleaved, and timed on the same clock as the row it sits beside: on-CPU
rows against the merge's on-CPU time, wall-clock rows against its wall time. The ratio says how
close a full decision gets to that floor.
"""

from __future__ import annotations

import os
import time

import numpy as np

from bench import Measure
from execution.router import CexInput, PoolInput, route
from execution.venues.base import Side

READS_PER_SNAPSHOT = 32


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


def _copy(book: list[CexInput], read_only: bool) -> list[CexInput]:
    """A new snapshot with the same levels (new arrays: nothing can be reused from the old one)."""
    out = []
    for c in book:
        levels = c.levels.copy()
        levels.flags.writeable = not read_only
        out.append(CexInput(c.venue, levels, c.fee))
    return out


def _decide(books, pools, sizes, n: int, reads_per_snapshot: int):
    """Time ``n`` decisions, each book snapshot replaced after ``reads_per_snapshot`` reads of it."""
    ours, floor, on_cpu, floor_cpu = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    window = 4 * reads_per_snapshot  # 2 snapshots (asks and bids of each) in use at a time
    live: list[list[CexInput]] = []
    for i in range(n):  # interleaved with the floor, so both see the same machine
        if i % window == 0:  # the market-data refresh, outside the timing
            w = 2 * (i // window)
            live = [_copy(books[(w + k // 2) % len(books)][k % 2], reads_per_snapshot > 1) for k in range(4)]
        side = Side.BUY if i % 2 else Side.SELL
        b = live[2 * ((i // 2) % 2) + (0 if side is Side.BUY else 1)]
        if reads_per_snapshot == 1:
            b = _copy(b, read_only=False)
        c0, t0 = time.thread_time(), time.perf_counter()
        route(side, float(sizes[i % len(sizes)]), b, pools, lot=1e-5)
        t1, c1 = time.perf_counter(), time.thread_time()
        on_cpu[i] = c1 - c0
        c2, t2 = time.thread_time(), time.perf_counter()
        levels = np.concatenate([c.levels for c in b])
        order = levels[:, 0].argsort(kind="stable")
        levels[order, 1].cumsum()
        t3, c3 = time.perf_counter(), time.thread_time()
        ours[i], floor[i], floor_cpu[i] = t1 - t0, t3 - t2, c3 - c2
    return ours, floor, on_cpu, floor_cpu


def run(quick: bool = False) -> list[Measure]:
    rng = np.random.default_rng(7)
    books = _books(rng, 64)
    pools = [
        PoolInput("pool_a", 300.0, 300 * 60_000.0, 0.003, 5.0),
        PoolInput("pool_b", 150.0, 150 * 60_050.0, 0.0005, 5.0),
    ]
    sizes = rng.choice([0.01, 0.1, 0.5, 1.0, 3.0, 8.0], size=61)  # from one level to deep into every book
    n = 3_072 if quick else 20_480
    load = os.getloadavg()[0]
    out = []
    for regime, reads in (
        (f"each snapshot read {READS_PER_SNAPSHOT}x", READS_PER_SNAPSHOT),
        ("a new book every decision", 1),
    ):
        ours, floor, on_cpu, floor_cpu = _decide(books, pools, sizes, n, reads)
        rate, wall_rate = float(1 / on_cpu.mean()), float(1 / ours.mean())
        floor_rate, floor_cpu_rate = float(1 / floor.mean()), float(1 / floor_cpu.mean())
        cpu99, p99 = float(np.percentile(on_cpu, 99) * 1e3), float(np.percentile(ours, 99) * 1e3)
        floor99, floor_cpu99 = (
            float(np.percentile(floor, 99) * 1e3),
            float(np.percentile(floor_cpu, 99) * 1e3),
        )
        cpu_floor = "numpy merge of the same levels, on-CPU (both sides timed with thread_time)"
        wall_floor = "numpy merge of the same levels, wall clock (both sides timed with perf_counter)"
        out += [
            Measure(f"router decisions/s on one core (on-CPU), {regime}", rate, "decisions/s",
                    cpu_floor, floor_cpu_rate, rate / floor_cpu_rate, ">= 20000 decisions/s", bool(rate >= 20_000)),
            Measure(f"router decision p99 on-CPU, {regime}", cpu99, "ms", cpu_floor.replace("merge", "merge p99"),
                    floor_cpu99, cpu99 / floor_cpu99, "<= 0.5 ms", bool(cpu99 <= 0.5)),
            Measure(f"router decisions/s wall clock, {regime} (load avg {load:.1f} on {os.cpu_count()} cores)",
                    wall_rate, "decisions/s", wall_floor, floor_rate,
                    wall_rate / floor_rate, ">= 20000 decisions/s", bool(wall_rate >= 20_000)),
            Measure(f"router decision p99 wall clock (includes preemption), {regime}", p99, "ms",
                    wall_floor.replace("merge", "merge p99"), floor99, p99 / floor99, "<= 0.5 ms", bool(p99 <= 0.5)),
        ]  # fmt: skip
    return out
