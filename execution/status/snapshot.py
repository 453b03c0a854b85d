"""What the status page shows, read from the running service's memory: no journal query, no venue call."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from execution.decimal_text import plain_decimal
from execution.metrics import STAGES
from execution.orders import LIVE

if TYPE_CHECKING:
    from execution.service import ExecutionService

_Q = Decimal("0.01")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(_Q))


def latency_ms(service: ExecutionService) -> dict[str, dict[str, float | int | None]]:
    """Per stage: count and the p50/p99 bucket bounds (ms) of the service's latency histogram."""
    buckets: dict[str, list[tuple[float, float]]] = {s: [] for s in STAGES}
    for metric in service.metrics.stage.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("stage") in buckets:
                buckets[sample.labels["stage"]].append((float(sample.labels["le"]), sample.value))
    out: dict[str, dict[str, float | int | None]] = {}
    for stage, rows in buckets.items():
        rows.sort()
        count = int(rows[-1][1]) if rows else 0
        out[stage] = {"count": count, "p50_ms": _quantile(rows, 0.5), "p99_ms": _quantile(rows, 0.99)}
    return out


def _quantile(cumulative: list[tuple[float, float]], q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` (a histogram knows no finer), in ms."""
    if not cumulative or cumulative[-1][1] == 0:
        return None
    target = q * cumulative[-1][1]
    for bound, seen in cumulative:
        if seen >= target:
            return bound * 1000.0
    return None


def snapshot(service: ExecutionService, recent: int = 25) -> dict[str, Any]:
    """Positions, P&L, orders (counts and the newest ``recent``), latency and the kill switch."""
    marks = service.marks()
    positions = [
        {
            "asset": asset,
            "quantity": plain_decimal(p.quantity),
            "average_price": _money(p.average_price),
            "mark": _money(marks.get(asset)),
            "realised": _money(p.realised),
            "unrealised": _money(p.unrealised(marks.get(asset))),
            "fees": _money(p.fees),
            "fills": p.fills,
        }
        for asset, p in sorted(service.portfolio.positions.items())
    ]
    orders = sorted(service.oms.orders.values(), key=lambda o: o.client_order_id, reverse=True)
    switch = service.killswitch
    return {
        "at": time.time(),
        "started": service.started,
        "kill_switch": {
            "state": switch.state.value,
            "reason": switch.reason,
            "changed_at": switch.changed_at,
        },
        "pnl": {k: _money(v) for k, v in service.pnl().items()},
        "positions": positions,
        "orders_by_state": dict(sorted(service.oms.counts().items())),
        "live_orders": sum(1 for o in orders if o.state in LIVE),
        "signals": len(service.signals),
        "refusals_by_reason": dict(sorted(service.refusal_counts.items())),
        "latency_ms": latency_ms(service),
        "audit_checkpoint": audit_checkpoint(service),
        "alerts": [{"event": a.event, "title": a.title, "at": a.at} for a in reversed(service.alerts.recent)]
        if getattr(service, "alerts", None) is not None
        else [],  # newest first: what was (or would be) sent to the alert receivers
        "recent_orders": [
            {
                "client_order_id": o.client_order_id,
                "venue": o.venue,
                "symbol": o.symbol,
                "side": o.side.value,
                "amount": plain_decimal(o.amount),
                "filled": plain_decimal(o.filled),
                "average_price": _money(o.average_price),
                "state": o.state.value,
                "model_tag": o.model_tag,
                "updated_at": o.updated_at,
            }
            for o in orders[:recent]
        ],
    }


def audit_checkpoint(service: ExecutionService) -> dict[str, Any] | None:
    """The newest signed checkpoint of the audit chain (the anchor outside the database), if any."""
    signer = getattr(service.journal, "checkpoints", None)
    last = signer.last if signer is not None else None
    if last is None:
        return None
    return {"seq": last.seq, "hash": last.hash, "at_ms": last.at_ms, "reason": last.reason, "key": last.key,
            "file": str(signer.path)}  # fmt: skip
