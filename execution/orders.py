"""The order state machine: the one place where a child order's state changes.

::

    new -> submitted -> acknowledged -> partially_filled -> filled
      \\         \\             \\               \\-> cancelled
       \\         \\-> unknown (answer lost) -> any of the above, or submitted again (same id)
        \\-> cancelled / rejected

Every function here returns the :class:`OrderEvent` to journal; callers journal it before they
call a venue and after it answers. Fills are counted once by fill id, whatever order they come
in, and reports from a venue never move an order backwards (a stale "open" after a fill is
ignored). A fill that arrives after an order was cancelled still counts: money moved.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from ulid import ULID

from execution.venues.base import OrderRequest, Side, TimeInForce, VenueFill, VenueOrder, VenueStatus


class OrderState(StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


S = OrderState
TERMINAL = frozenset({S.FILLED, S.CANCELLED, S.REJECTED})
LIVE = frozenset(set(S) - TERMINAL)
ALLOWED: dict[OrderState, frozenset[OrderState]] = {
    S.NEW: frozenset({S.SUBMITTED, S.CANCELLED, S.REJECTED}),
    S.SUBMITTED: frozenset(
        {S.ACKNOWLEDGED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.UNKNOWN}
    ),
    S.ACKNOWLEDGED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.UNKNOWN}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.UNKNOWN}),
    S.UNKNOWN: frozenset(
        {S.SUBMITTED, S.ACKNOWLEDGED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED}
    ),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
}
# how far along an order is: a venue report never moves an order to a lower rank
_RANK = {S.NEW: 0, S.SUBMITTED: 1, S.UNKNOWN: 1, S.ACKNOWLEDGED: 2, S.PARTIALLY_FILLED: 3}


class IllegalTransition(RuntimeError):
    pass


_RANDOM = random.Random(int.from_bytes(os.urandom(16), "big") ^ os.getpid())


def new_client_order_id() -> str:
    """A globally unique, time-ordered client order id (ULID).

    48 bits of milliseconds and 80 random bits from a generator seeded once per process from the OS:
    ``os.urandom`` per id cost ~80 us on a busy VM, on the signal's latency path.
    """
    millis = time.time_ns() // 1_000_000
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + _RANDOM.getrandbits(80).to_bytes(10, "big")))


@dataclass(slots=True)
class ChildOrder:
    """One order on one venue; ``intent_key`` names the leg it executes (one live order per key)."""

    client_order_id: str
    parent_id: str
    intent_key: str
    venue: str
    symbol: str
    asset: str
    side: Side
    amount: Decimal
    limit_price: Decimal | None
    time_in_force: TimeInForce
    state: OrderState = S.NEW
    filled: Decimal = Decimal(0)  # sum of the fills we hold
    cost: Decimal = Decimal(0)  # sum of price x amount of those fills
    fees: Decimal = Decimal(0)
    venue_filled: Decimal = Decimal(0)  # what the venue last said was filled
    venue_order_id: str | None = None
    attempts: int = 0
    reason: str | None = None
    signal_id: str | None = None
    model_tag: str | None = None
    prediction_id: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    last_sent_at: float = 0.0
    fill_ids: set[str] = field(default_factory=set)

    @property
    def live(self) -> bool:
        return self.state in LIVE

    @property
    def remaining(self) -> Decimal:
        """Amount that may still fill (zero once terminal)."""
        if self.state in TERMINAL:
            return Decimal(0)
        return max(self.amount - max(self.filled, self.venue_filled), Decimal(0))

    @property
    def settled(self) -> bool:
        """Terminal, and every fill the venue reported is held here."""
        return self.state in TERMINAL and self.filled >= self.venue_filled

    @property
    def average_price(self) -> Decimal | None:
        return self.cost / self.filled if self.filled else None

    def request(self, expires_at: float | None = None) -> OrderRequest:
        return OrderRequest(
            self.client_order_id, self.symbol, self.side, self.amount, self.limit_price, self.time_in_force,
            expires_at,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class OrderEvent:
    client_order_id: str
    from_state: OrderState
    to_state: OrderState
    at: float
    reason: str | None
    filled: Decimal


def restore(state: OrderState, **fields) -> ChildOrder:
    """An order as the journal last recorded it (start-up only; not a transition)."""
    order = ChildOrder(**fields)
    order.state = state
    return order


def create(**fields) -> tuple[ChildOrder, OrderEvent]:
    """A new order (state ``new``) and its creation event."""
    order = ChildOrder(**fields)
    order.state = S.NEW
    return order, OrderEvent(order.client_order_id, S.NEW, S.NEW, order.created_at, "created", order.filled)


def transition(
    order: ChildOrder, to: OrderState, reason: str | None = None, at: float | None = None
) -> OrderEvent:
    """Move ``order`` to ``to``; raises :class:`IllegalTransition` when the machine forbids it."""
    if to not in ALLOWED[order.state]:
        raise IllegalTransition(f"order {order.client_order_id}: {order.state} -> {to} is not allowed")
    at = time.time() if at is None else at
    event = OrderEvent(order.client_order_id, order.state, to, at, reason, order.filled)
    order.state = to
    order.updated_at = at
    if reason is not None and to in (S.REJECTED, S.CANCELLED, S.UNKNOWN):
        order.reason = reason
    if to is S.SUBMITTED:
        order.attempts += 1
        order.last_sent_at = at
    return event


def note(order: ChildOrder, reason: str) -> OrderEvent:
    """An event that records an action on ``order`` (e.g. a cancel request) without changing its state."""
    return OrderEvent(order.client_order_id, order.state, order.state, time.time(), reason, order.filled)


def mark_sent(order: ChildOrder, at: float) -> None:
    """Record that the order was (re)sent at ``at``: its request expires ``venue_timeout`` later."""
    order.last_sent_at = at


def _fill_state(order: ChildOrder) -> OrderState:
    return S.FILLED if order.filled >= order.amount else S.PARTIALLY_FILLED


def apply_fill(order: ChildOrder, fill: VenueFill) -> tuple[bool, OrderEvent | None]:
    """Count ``fill`` once. Returns (new fill?, state event if the state moved)."""
    if fill.fill_id in order.fill_ids:
        return False, None
    order.fill_ids.add(fill.fill_id)
    order.filled += fill.amount
    order.cost += fill.price * fill.amount
    order.fees += fill.fee
    order.venue_filled = max(order.venue_filled, order.filled)
    if order.state in TERMINAL:
        return True, None  # a late fill of a cancelled order: counted, state stays
    target = _fill_state(order)
    if target is S.PARTIALLY_FILLED and order.state is S.PARTIALLY_FILLED:
        return True, OrderEvent(
            order.client_order_id, order.state, order.state, time.time(), "fill", order.filled
        )
    return True, transition(order, target, "fill")


def apply_report(order: ChildOrder, report: VenueOrder) -> OrderEvent | None:
    """Bring ``order`` up to a venue's report of it; stale reports change nothing."""
    order.venue_order_id = order.venue_order_id or report.venue_order_id
    order.venue_filled = max(order.venue_filled, report.filled)
    if order.state in TERMINAL:
        return None
    if report.status is VenueStatus.OPEN:
        target = S.PARTIALLY_FILLED if order.venue_filled > 0 else S.ACKNOWLEDGED
        if _RANK.get(target, 4) <= _RANK[order.state] and order.state is not S.UNKNOWN:
            return None
    elif report.status is VenueStatus.CLOSED:
        target = S.FILLED
    elif report.status is VenueStatus.CANCELED:
        target = S.CANCELLED
    else:
        target = S.REJECTED
    if target is order.state:
        return None
    return transition(order, target, report.reason or f"venue: {report.status.value}")
