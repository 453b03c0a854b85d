"""Simulator speed: a year of the shipped config's world (2 assets x 3 venues, chain, DEX).

The year is generated the way a backfill asks for it, one day window after the other, all seven
raw tables, from a cold simulator. Beside it, in the same run, a floor: numpy drawing and
cumulatively summing as many normal values as the year has rows (the least any vectorised
generator of those rows must spend). Also the paper venues' point query, an order book at a
random instant, against numpy's cost of interpolating one price.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from bench import Measure

CONFIG = Path(__file__).resolve().parent.parent / "kimera.yaml"
GOAL_SECONDS_PER_YEAR = 10.0


def _simulator():
    from connect.sim import spec_from_config
    from kimera.config import load_config
    from marketsim import MarketSimulator

    return MarketSimulator(spec_from_config(load_config(CONFIG)))  # cold: no shared caches


def _year(days: int) -> tuple[float, float, int]:
    """(wall seconds, this process's CPU seconds, rows) to generate ``days`` days, day by day."""
    sim = _simulator()
    start = sim.start
    began, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for day in range(days):
        window = (start + timedelta(days=day), start + timedelta(days=day + 1))
        rows += sum(t.num_rows for t in sim.generate(*window).values())
    return time.perf_counter() - began, time.process_time() - cpu, rows


def _floor(rows: int) -> tuple[float, float]:
    """(wall, CPU) seconds for numpy to draw and cumulatively sum ``rows`` normal values."""
    rng = np.random.default_rng(0)
    began, cpu = time.perf_counter(), time.process_time()
    for chunk in range(0, rows, 5_000_000):
        np.cumsum(rng.standard_normal(min(5_000_000, rows - chunk)))
    return time.perf_counter() - began, time.process_time() - cpu


def _point_queries(count: int) -> tuple[float, float]:
    sim = _simulator()
    rng = np.random.default_rng(1)
    seconds = rng.uniform(0, 30 * 86_400, count)
    instants = [sim.start + timedelta(seconds=float(s)) for s in seconds]
    sim.order_book("alpha", "BTC/USDT", instants[0])  # build the month once; queries then hit caches
    sim.order_book("alpha", "BTC/USDT", sim.start + timedelta(days=30))
    began = time.perf_counter()
    for t in instants:
        sim.order_book("alpha", "BTC/USDT", t)
    per_query = (time.perf_counter() - began) / count
    values = np.cumsum(rng.standard_normal(1441))
    began = time.perf_counter()
    for s in seconds:
        np.interp(s % 86_400 / 60.0, np.arange(1441), values)
    return per_query, (time.perf_counter() - began) / count


def run(quick: bool = False) -> list[Measure]:
    days = 30 if quick else 365
    elapsed, cpu, rows = _year(days)
    floor, floor_cpu = _floor(rows)
    goal = GOAL_SECONDS_PER_YEAR * days / 365
    per_query, interp = _point_queries(200 if quick else 2000)
    return [
        Measure(
            measure=f"simulator: {days} days, all 7 raw tables ({rows / 1e6:.1f}M rows)",
            value=elapsed,
            unit="s",
            baseline="numpy: draw + cumsum as many normals (floor)",
            baseline_value=floor,
            ratio=elapsed / floor,
            goal=f"<= {goal:.3g} s",
            met=elapsed <= goal,
        ),
        Measure(
            measure="simulator: the same, CPU seconds of this process (less sensitive to a shared machine)",
            value=cpu,
            unit="s",
            baseline="numpy floor, CPU seconds",
            baseline_value=floor_cpu,
            ratio=cpu / floor_cpu,
            goal=f"<= {goal:.3g} s",
            met=cpu <= goal,
        ),
        Measure(
            measure="simulator: rows per second",
            value=rows / elapsed,
            unit="rows/s",
            baseline="numpy floor, values per second",
            baseline_value=rows / floor,
            ratio=floor / elapsed,
            goal=f">= {rows / goal:,.0f} rows/s (the time goal)",
            met=rows / elapsed >= rows / goal,
        ),
        Measure(
            measure="order_book(venue, symbol, t): warm point query",
            value=per_query * 1e6,
            unit="µs",
            baseline="numpy: interpolate one price",
            baseline_value=interp * 1e6,
            ratio=per_query / interp,
            goal="<= 200 µs",
            met=per_query <= 200e-6,
        ),
    ]
