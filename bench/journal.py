"""Durable journal intake with group commit: orders per second, each made durable before its writer
goes on. Baseline (a ceiling): SQLite's own insert rate for the same rows, one fsync per batch of
the same size as the journal's average group, on the same disk in the same run."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench import Measure
from execution import orders as sm
from execution.journal import Journal
from execution.orders import OrderState
from execution.venues.base import Side, TimeInForce


def _orders(n: int) -> list[sm.ChildOrder]:
    out = []
    for i in range(n):
        order, _ = sm.create(
            client_order_id=sm.new_client_order_id(), parent_id=f"P{i // 3}", intent_key=f"P{i // 3}:0:v{i % 3}",
            venue=("alpha", "bravo", "charlie")[i % 3], symbol="BTC/USDT", asset="BTC", side=Side.BUY,
            amount=Decimal("0.01234"), limit_price=Decimal("60001.25"), time_in_force=TimeInForce.IOC,
            signal_id=f"s{i // 3}", model_tag="bench", prediction_id=f"p{i // 3}",
        )  # fmt: skip
        out.append(order)
    return out


async def _journal_rate(path: Path, n: int, writers: int) -> tuple[float, float]:
    journal = Journal(f"sqlite:///{path}", synchronous="full")
    journal.open()
    orders = _orders(n)
    queue = iter(orders)

    async def writer() -> None:
        for order in queue:  # each writer awaits its own order's durability before the next
            event = sm.transition(order, OrderState.SUBMITTED)
            await journal.write(journal.order_change(order, [event]))

    t0 = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - t0
    group = journal.units / max(journal.commits, 1)
    journal.close()
    return n / elapsed, group


def _sqlite_rate(path: Path, n: int, batch: int) -> float:
    journal = Journal(f"sqlite:///{path}")
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for ddl in journal._ddl():
        conn.execute(ddl)
    rows = []
    for order in _orders(n):
        event = sm.transition(order, OrderState.SUBMITTED)
        rows.append((journal.upsert_order(order), journal.event(event)))
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        chunk = rows[start : start + batch]
        conn.execute("BEGIN")
        conn.executemany(chunk[0][0][0], [r[0][1] for r in chunk])
        conn.executemany(chunk[0][1][0], [r[1][1] for r in chunk])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return n / elapsed


def run(quick: bool = False) -> list[Measure]:
    n = 3_000 if quick else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        rate, group = asyncio.run(_journal_rate(Path(tmp) / "journal.sqlite", n, writers=256))
        ceiling = _sqlite_rate(Path(tmp) / "raw.sqlite", n, batch=max(1, round(group)))
    return [
        Measure(
            f"journal intake, group commit (avg group {group:.0f} orders)", rate, "orders/s",
            "sqlite executemany, 1 fsync per batch", ceiling, rate / ceiling, ">= 5000 orders/s", bool(rate >= 5000),
        )
    ]  # fmt: skip
