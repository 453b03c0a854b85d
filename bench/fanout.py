"""Copy-trading fan-out: one leader signal to 100 followers, each sized by its allocation rule,
checked against its own limits and compliance, and the whole fan-out journaled durably (SQLite,
``synchronous=full``, the shipped setting) before it returns. Ceiling in the same run: 100 x the
time one account alone takes for the same decision and journal write.

Each trial is timed from the signal to its journal unit being durable; the paper venue's fills are
booked between trials (untimed) so every trial trades (long, then flat, then long...).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench import Measure
from execution.accounts.desk import Desk
from execution.accounts.paper import PaperDesk
from execution.journal import Journal
from execution.venues.books import SyntheticMarket, VenueShape
from execution.venues.matching import PaperExchange, PaperVenueSpec
from kimera.config import ExecutionConfig

T0 = 1_780_000_000.0
RULES = ("equity_fraction", "fixed_notional", "risk_budget")


def _config(followers: int) -> ExecutionConfig:
    accounts = [{"name": "lead", "capital": 1_000_000}]
    subs = []
    for i in range(followers):
        accounts.append({"name": f"f{i:03d}", "capital": 10_000 + 100 * i})
        rule = RULES[i % 3]
        subs.append({"follower": f"f{i:03d}", "leader": "leader", "rule": rule,
                     "value": {"equity_fraction": 0.5, "fixed_notional": 5_000, "risk_budget": 0.5}[rule]})  # fmt: skip
    return ExecutionConfig(
        accounts=accounts, strategies=[{"name": "leader", "account": "lead"}], followers=subs
    )


def _latencies(path: Path, followers: int, trials: int) -> tuple[list[float], list[float], int]:
    """Seconds from signal to durable journal unit per trial, wall and on this process's CPU
    (the journal's writer thread included); and the orders decided in all."""
    market = SyntheticMarket(seed=5, venues={"alpha": VenueShape(depth_notional=50_000_000)})
    spec = PaperVenueSpec("alpha", fee=0.001, latency_s=0.02, rate_limit_per_s=1e9)
    venue = PaperExchange(market, [spec], seed=5).venue("alpha")
    desk = Desk(_config(followers), {s: spec.rules(s) for s in spec.symbols}, {"BTC": "BTC/USDT"})
    journal = Journal(f"sqlite:///{path}", synchronous="full")
    journal.open()
    try:
        paper = PaperDesk(desk, venue, journal)
        out, cpu, orders = [], [], 0
        for k in range(trials):
            now = T0 + 2 * k
            forecast = 0.003 if k % 2 == 0 else 0.0
            body = {"signal_id": f"lead-{k}", "asset": "BTC", "model_tag": "bench", "horizon": 1,
                    "forecast": forecast, "lower": forecast - 0.005, "upper": forecast + 0.005}  # fmt: skip
            c0, t0 = time.process_time(), time.perf_counter()
            fan = paper.decide(body, now)
            out.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            orders += len(fan.orders)
            paper.send(fan, now)
            paper.settle(now + 1)
    finally:
        journal.close()
    return out, cpu, orders


def _p(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def run(quick: bool = False) -> list[Measure]:
    trials = 40 if quick else 300
    with tempfile.TemporaryDirectory() as tmp:
        one, one_cpu, _ = _latencies(Path(tmp) / "one.sqlite", 0, trials)
        fan, fan_cpu, orders = _latencies(Path(tmp) / "fan.sqlite", 100, trials)
    ms = 1e3
    p99, p50 = _p(fan, 99) * ms, _p(fan, 50) * ms
    c99, c50 = 100 * _p(one, 99) * ms, 100 * _p(one, 50) * ms
    cpu99, ccpu99 = _p(fan_cpu, 99) * ms, 100 * _p(one_cpu, 99) * ms
    both = "decide (size, risk, compliance) + journal durably"
    return [
        Measure(
            f"1 leader -> 100 followers, {both}, p99 ({orders / trials:.0f} orders/signal)", p99, "ms",
            "100 x one account alone, p99", c99, p99 / c99, "p99 <= 20 ms", bool(p99 <= 20),
        ),
        Measure(
            f"1 leader -> 100 followers, {both}, p50", p50, "ms",
            "100 x one account alone, p50", c50, p50 / c50, "reported", True,
        ),
        Measure(
            f"1 leader -> 100 followers, {both}, on-CPU p99 (no waiting: shows what a busy machine adds)",
            cpu99, "ms", "100 x one account alone, on-CPU p99", ccpu99, cpu99 / ccpu99, "reported", True,
        ),
    ]  # fmt: skip
