"""TWAP and iceberg slicing: a parent order split into slices, and when the next one is due.

A parent is what one signal decided to trade (side, quantity, the reference price it was sized
at). Above ``routing.slice_threshold_notional`` it is split into slices of at most
``routing.slice_notional`` (never more than pre-trade risk lets one venue order be), on the lot
grid in Decimal. ``twap`` sends the next slice every ``routing.twap_interval_s``; ``iceberg`` sends
it once the previous slice's orders are no longer live. The service routes each slice; the
journal stores the parent as it is here, so slicing resumes after a restart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from kimera.config import ExecutionRouting


def _dec(x: float | Decimal) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))


@dataclass
class ParentOrder:
    """One signal's order before routing, with its slices and how far they have been sent."""

    parent_id: str
    signal_id: str | None
    asset: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    target: Decimal | None
    reference_price: Decimal | None
    created_at: float
    slice_mode: str | None  # "twap" | "iceberg" | None (one slice)
    slices: list[Decimal]
    next_slice: int
    next_slice_at: float | None
    status: str  # "working" | "done" | "cancelled"
    model_tag: str | None = None
    prediction_id: str | None = None

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    def unsent(self) -> Decimal:
        """Base units of the slices not sent yet."""
        return sum(self.slices[self.next_slice :], Decimal(0))

    def due(self, now: float, children_live: bool) -> bool:
        """Whether the next slice may go now: an iceberg waits for its last piece, a TWAP for its interval."""
        if self.slice_mode == "iceberg":
            return not children_live
        return now >= (self.next_slice_at or 0)

    def advance(self, now: float, interval_s: float) -> None:
        """The next slice was sent (or refused): move on, the one after it due ``interval_s`` later."""
        self.next_slice += 1
        self.next_slice_at = now + interval_s

    def finished(self) -> bool:
        return self.next_slice >= len(self.slices)


def split(
    qty: float, ref: float, lot: float, routing: ExecutionRouting, max_order_notional: float
) -> list[Decimal]:
    """``qty`` as slices: one below the threshold, else equal slices on the lot grid, the rest last."""
    notional = qty * ref
    # a slice never exceeds what pre-trade risk lets one venue order be
    threshold = min(routing.slice_threshold_notional, max_order_notional)
    if notional <= threshold:
        return [_dec(qty)]
    n = math.ceil(notional / min(routing.slice_notional, max_order_notional))
    # on the lot grid in Decimal: float steps would journal sizes like 0.09355000000000001
    q, step = _dec(qty), _dec(lot)
    each = (q / n / step).to_integral_value(rounding=ROUND_FLOOR) * step
    return [each] * (n - 1) + [q - each * (n - 1)]


def new_parent(
    parent_id: str, body: dict[str, Any], asset: str, side: str, qty: float, target: float, ref: float,
    lot: float, routing: ExecutionRouting, max_order_notional: float, now: float,
) -> ParentOrder:  # fmt: skip
    """The parent order of a signal's decision, split by :func:`split`, its first slice not sent yet."""
    slices = split(qty, ref, lot, routing, max_order_notional)
    sliced = len(slices) > 1
    return ParentOrder(
        parent_id=parent_id,
        signal_id=body.get("signal_id"),
        asset=asset,
        side=side,
        quantity=_dec(qty),
        target=_dec(target),
        reference_price=_dec(ref),
        created_at=now,
        slice_mode=routing.slice_mode if sliced else None,
        slices=slices,
        next_slice=0,
        next_slice_at=now + routing.twap_interval_s if sliced else None,
        status="working",
        model_tag=body.get("model_tag"),
        prediction_id=body.get("prediction_id"),
    )
