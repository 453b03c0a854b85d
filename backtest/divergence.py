"""How far a backtest is from a journal of the same window (``kimera backtest --against-journal``).

The journal (paper or live, SQLite path or PostgreSQL URL; read-only) says, per signal, the asset
and bar (``feature_time``), the decision (the parent order's side, or none when no order came of
it) and its fills. The backtest replays that window with the same model (the journal's model
tag) and decides the same bars. Compared per (asset, bar) the journal signalled:

* **same decision**: the share of bars where both bought, both sold, or both did nothing;
* **fill price difference**: per bar both filled, |backtest average price / journal average price
  - 1| in bp; the median is reported;
* **P&L tracking error**: per bar both filled, the execution P&L the backtest gained or lost
  against the journal on the journal's quantity (``side × (journal price - backtest price) ×
  quantity``, quote), reported as its root mean square and its sum.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from backtest.run import BacktestResult


@dataclass(frozen=True)
class Decision:
    asset: str
    bar_time: datetime
    side: str  # buy | sell | none
    filled: float = 0.0
    average_price: float | None = None


@dataclass(frozen=True)
class JournalWindow:
    decisions: list[Decision]
    model_tag: str | None
    first_bar: datetime
    last_bar: datetime
    strategies: frozenset[str] = frozenset()  # the service's strategies that ordered (account journal)


def read_journal(url: str | Path) -> JournalWindow:
    """The journal's decisions, one per signal; ValueError when it has none."""
    from execution.journal_reader import JournalReader

    reader = JournalReader(url)
    if not reader.exists:
        raise ValueError(f"no journal at {reader.where}")
    try:
        signals = reader.rows("SELECT signal_id, body, parent_id FROM signals ORDER BY signal_id")
        parents = {r[0]: r[1] for r in reader.rows("SELECT parent_id, side FROM parents")}
        orders = reader.rows("SELECT client_order_id, parent_id FROM orders")
        fills = reader.rows("SELECT client_order_id, price, amount FROM fills")
        strategies = (
            {
                r[0]
                for r in reader.rows(
                    "SELECT DISTINCT strategy FROM account_orders WHERE strategy IS NOT NULL"
                )
            }
            if reader.has_table("account_orders")
            else set()
        )
    finally:
        reader.close()
    parent_of = {o: p for o, p in orders}
    filled: dict[str, list[float]] = {}
    for order_id, price, amount in fills:
        agg = filled.setdefault(parent_of.get(order_id, ""), [0.0, 0.0])
        agg[0] += float(amount)
        agg[1] += float(price) * float(amount)
    decisions, tags = [], Counter()
    for _, body, parent_id in signals:
        b = json.loads(body)
        bar = datetime.strptime(b["feature_time"], "%Y-%m-%dT%H:%M:%SZ")
        tags[b.get("model_tag")] += 1
        side = parents.get(parent_id, "none") if parent_id else "none"
        qty, cost = filled.get(parent_id or "", (0.0, 0.0))
        decisions.append(Decision(b["asset"], bar, side, qty, cost / qty if qty else None))
    if not decisions:
        raise ValueError(f"the journal at {url} holds no signal: nothing to compare")
    bars = [d.bar_time for d in decisions]
    return JournalWindow(decisions, tags.most_common(1)[0][0], min(bars), max(bars), frozenset(strategies))


def sizing_note(window: JournalWindow, configured: list[str]) -> str | None:
    """A warning when the journal's orders came from strategies the backtest's config does not have
    (the backtest would size them otherwise), naming both and what to pass."""
    missing = sorted(window.strategies - set(configured) - {"default"})
    if not missing:
        return None
    return (
        f"  note: the journal's orders are by strategies {missing}, which this config does not configure "
        f"(it has {sorted(configured) or ['default']}): the backtest sizes otherwise. Pass the service's config "
        "with --config (the demo's: $KIMERA_HOME/demo/kimera.yaml)"
    )


def backtest_decisions(result: BacktestResult) -> dict[tuple[str, datetime], Decision]:
    """The backtest's decision per (asset, bar): its orders' side and fills, or none."""
    by_decision: dict[str, list] = {}
    for o in result.orders:
        by_decision.setdefault(o.decision_id, []).append(o)
    out = {}
    for prediction_id, asset, bar_time in result.decisions:
        orders = by_decision.get(prediction_id, [])
        side = orders[0].side if orders else "none"
        qty = sum(o.filled for o in orders)
        cost = sum(o.cost for o in orders)
        out[(asset, bar_time)] = Decision(asset, bar_time, side, qty, cost / qty if qty else None)
    return out


def compare(journal: list[Decision], backtest: dict[tuple[str, datetime], Decision]) -> dict[str, Any]:
    same, diffs_bp, pnl, different = 0, [], [], []
    for j in journal:
        b = backtest.get((j.asset, j.bar_time), Decision(j.asset, j.bar_time, "none"))
        same += b.side == j.side
        if b.side != j.side:
            different.append(f"{j.asset} {j.bar_time:%Y-%m-%d %H:%M} journal {j.side}, backtest {b.side}")
        if j.side == b.side != "none" and j.average_price and b.average_price:
            diffs_bp.append(abs(b.average_price / j.average_price - 1) * 1e4)
            sign = 1.0 if j.side == "buy" else -1.0
            pnl.append(sign * (j.average_price - b.average_price) * j.filled)
    return {
        "bars": len(journal),
        "same_decision": same / len(journal),
        "compared_fills": len(diffs_bp),
        "median_fill_diff_bp": float(np.median(diffs_bp)) if diffs_bp else math.nan,
        "pnl_tracking_rms": float(np.sqrt(np.mean(np.square(pnl)))) if pnl else math.nan,
        "pnl_difference": float(np.sum(pnl)) if pnl else 0.0,
        "different": different,  # the bars decided differently, for a reader to look at
    }


def warmup_start(first_bar: datetime, bar: timedelta, bars: int) -> datetime:
    """Where the replay starts so that features and model windows are warm at the journal's first bar."""
    return first_bar - bars * bar


def lines(figures: dict[str, Any], journal: str, shown: int = 5) -> list[str]:
    different = figures.get("different", [])
    told = [
        f"  decided differently: {'; '.join(different[:shown])}"
        + (f"; and {len(different) - shown} more" if len(different) > shown else "")
    ] if different else []  # fmt: skip
    return [
        f"against the journal {journal}: {figures['bars']} decided bars",
        f"  same decision in {figures['same_decision']:.1%} of bars (goal >= 95 %)",
        f"  median |fill price difference| {figures['median_fill_diff_bp']:.2f} bp over "
        f"{figures['compared_fills']} bars both filled (goal <= 2 bp)",
        f"  P&L tracking error {figures['pnl_tracking_rms']:,.2f} quote RMS per bar, "
        f"{figures['pnl_difference']:+,.2f} in all (backtest minus journal, on the journal's quantity)",
        *told,
    ]
