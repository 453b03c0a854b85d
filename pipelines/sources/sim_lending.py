"""The simulator's lending market (``lending.source: sim``): one pool lending every token of the
simulated chain, so the demo's ``marts.lending`` has rows.

Every 15 minutes each reserve has one action (supply, withdraw, borrow or repay by a simulated
wallet, now and then a labelled one) and its state after it: utilisation drifts weekly around 55 %,
rates follow Aave's kinked curve (4 % at the 80 % kink, +75 % above it; suppliers earn
``rate x utilisation x 0.9``), supply is worth about 50 M USD at the simulator's fair price. When an
asset's fair price has fallen more than 1.5 % over the last hour, loans backed by it are
liquidated (debt in USDC). Rows depend only on the seed and the step, so any split of a window gives
the same rows; the amounts are illustrative, not a model of any real market.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from kimera.schema import LENDING_EVENTS, LENDING_RESERVES
from pipelines.sources.rows import EPOCH, table_from_records

MARKET = "0x" + "a1" * 20  # the simulated pool's address
STEP_S = 900
KINK, SLOPE1, SLOPE2, RESERVE_FACTOR = 0.8, 0.04, 0.75, 0.1


def borrow_rate(utilisation: float) -> float:
    """Aave's default curve: linear to the kink, steep above it (fractions per year)."""
    return SLOPE1 * min(utilisation, KINK) / KINK + SLOPE2 * max(utilisation - KINK, 0.0) / (1 - KINK)


def _address(*parts: object) -> str:
    return "0x" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:40]


def lending_rows(simulator, tokens: list[dict], labelled: list[str], chain: str, seed: int, sim_start: datetime,
                 start: datetime, end: datetime) -> tuple[pa.Table, pa.Table]:  # fmt: skip
    """(``raw.lending_events``, ``raw.lending_reserves``) rows with ``ts`` in ``[start, end)``; the
    simulated world begins at ``sim_start`` (no liquidation looks back before it)."""
    first = math.ceil((start - EPOCH).total_seconds() / STEP_S)
    last = math.ceil((end - EPOCH).total_seconds() / STEP_S)
    tokens = sorted(tokens, key=lambda t: t["token_address"])
    usd = next((t for t in tokens if t["asset"] == "USD"), None)
    events, reserves = [], []

    def price(asset: str, at: datetime) -> float:
        return 1.0 if asset == "USD" else simulator.fair_price(asset, at)

    for step in range(first, last):
        ts = EPOCH + timedelta(seconds=step * STEP_S)
        block = step * STEP_S // 12
        common = {"chain": chain, "protocol": "aave_v3", "market": MARKET, "block_number": block,
                  "block_hash": "0x" + hashlib.sha256(f"{seed}:{block}".encode()).hexdigest(), "ts": ts}  # fmt: skip
        for i, token in enumerate(tokens):
            rng = np.random.default_rng([seed, 7919, step, i])
            p = price(token["asset"], ts)
            u = float(
                np.clip(
                    0.55 + 0.25 * math.sin(2 * math.pi * step / 672 + i) + 0.03 * rng.normal(), 0.05, 0.97
                )
            )
            supplied = 50e6 / p * (1 + 0.05 * math.sin(2 * math.pi * step / 96 + i))
            rate = borrow_rate(u)
            kind = str(rng.choice(["supply", "withdraw", "borrow", "repay"], p=[0.3, 0.2, 0.3, 0.2]))
            user = (
                labelled[int(rng.integers(len(labelled)))]
                if labelled and rng.random() < 0.2
                else _address(seed, step, i)
            )
            amount = supplied * float(rng.uniform(1e-4, 5e-3))
            events.append({**common, "log_index": 3 * i, "tx_hash": _address("tx", seed, step, i) + "0" * 24,
                           "event": kind, "reserve": token["token_address"], "user": user, "caller": user,
                           "amount": amount, "collateral_reserve": None, "collateral_amount": None,
                           "borrow_rate": rate if kind == "borrow" else None})  # fmt: skip
            reserves.append({**common, "log_index": 3 * i + 1, "reserve": token["token_address"],
                             "supply_rate": rate * u * (1 - RESERVE_FACTOR), "variable_borrow_rate": rate,
                             "stable_borrow_rate": rate + 0.02, "liquidity_index": 1 + step * 1e-7,
                             "variable_borrow_index": 1 + step * 2e-7, "total_supplied": supplied,
                             "total_borrowed": u * supplied})  # fmt: skip
            if (
                usd is not None
                and token is not usd
                and ts - timedelta(hours=1) >= sim_start
                and p < 0.985 * price(token["asset"], ts - timedelta(hours=1))
            ):
                debt = float(rng.uniform(1e4, 2e5))
                events.append({**common, "log_index": 3 * i + 2, "tx_hash": _address("liq", seed, step, i) + "0" * 24,
                               "event": "liquidation", "reserve": usd["token_address"],
                               "user": _address(seed, "borrower", step, i), "caller": _address(seed, "liquidator"),
                               "amount": debt, "collateral_reserve": token["token_address"],
                               "collateral_amount": debt * 1.05 / p, "borrow_rate": None})  # fmt: skip
    return table_from_records(LENDING_EVENTS, events), table_from_records(LENDING_RESERVES, reserves)
