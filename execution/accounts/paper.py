"""The desk trading on an in-process paper venue (the matching engine of ``execution.venues.matching``),
journaled: used by the tests, ``kimera bench fanout`` and the demo's accounts stage.

Time is the caller's: every call takes ``now`` (market time, epoch s); the venue fills an order
after its latency, against the book of that moment.
"""

from __future__ import annotations

from typing import Any

from execution.accounts import journal as aj
from execution.accounts.desk import Desk, FanOut
from execution.journal import Journal
from execution.venues.base import OrderRequest, TimeInForce, VenueFill, VenueOrder
from execution.venues.matching import _PaperVenue


class PaperDesk:
    """A :class:`Desk`, one paper venue and a journal: signals in, orders out, fills booked."""

    def __init__(self, desk: Desk, venue: _PaperVenue, journal: Journal):
        self.desk, self.venue, self.journal = desk, venue, journal
        self.cursor = 0
        aj.create_tables(journal)

    def marks(self, now: float) -> dict[str, float]:
        """Mid price of each asset's book at ``now``."""
        out = {}
        for asset, symbol in self.desk.pairs.items():
            mid = self.venue.book(symbol, now, 1).mid
            if mid is not None:
                out[asset] = mid
        return out

    def decide(self, body: dict[str, Any], now: float) -> FanOut:
        """Decide and journal a signal for every account it reaches (durable on return); nothing sent."""
        fan = self.desk.decide(body, self.marks(now), now)
        self.journal.submit(self.desk.statements(fan, self.journal)).result()
        return fan

    def send(self, fan: FanOut, now: float) -> None:
        for o in fan.orders:
            request = OrderRequest(
                o.client_order_id, o.symbol, o.side, o.amount, o.limit_price, TimeInForce.IOC
            )
            self.venue.place(request, now)

    def signal(self, body: dict[str, Any], now: float) -> FanOut:
        fan = self.decide(body, now)
        self.send(fan, now)
        return fan

    def settle(self, now: float) -> list[VenueFill]:
        """Read the venue's updates up to ``now``: book and journal the fills, retire finished orders."""
        updates = self.venue.updates_after(self.cursor, now, limit=1_000_000)
        self.cursor += len(updates)
        statements, fills = [], []
        for u in updates:
            if isinstance(u, VenueFill):
                row = self.desk.on_fill(u, self.journal)
                if row is not None:
                    statements.append(row)
                    fills.append(u)
        for u in updates:
            if isinstance(u, VenueOrder):
                self.desk.order_done(u.client_order_id)
        if statements:
            self.journal.submit(statements).result()
        self.desk.mark(self.marks(now), now)
        return fills
