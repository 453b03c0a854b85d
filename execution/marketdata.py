"""The latest order books and pool states, kept fresh in the background so routing never waits on I/O."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time

from execution.venues.base import OrderBook, PoolState, Venue, VenueError

log = logging.getLogger("kimera.execution.marketdata")


class MarketData:
    def __init__(self, venues: dict[str, Venue], symbols: dict[str, list[str]], depth: int, max_age_s: float):
        self.venues, self.symbols, self.depth, self.max_age_s = venues, symbols, depth, max_age_s
        self.books: dict[tuple[str, str], tuple[float, OrderBook]] = {}
        self.pools: dict[tuple[str, str], tuple[float, PoolState]] = {}

    async def refresh(self, venue: str, symbol: str) -> None:
        v = self.venues[venue]
        try:
            if v.kind == "amm":
                self.pools[(venue, symbol)] = (time.time(), await v.pool(symbol))
            else:
                book = await v.order_book(symbol, self.depth)
                book.bids.flags.writeable = book.asks.flags.writeable = False  # a snapshot: the router
                self.books[(venue, symbol)] = (time.time(), book)  # consolidates it once, not per decision
        except VenueError as exc:
            log.debug("market data %s %s: %s", venue, symbol, exc)

    async def refresh_all(self) -> None:
        await asyncio.gather(*(self.refresh(v, s) for v, syms in self.symbols.items() for s in syms))

    async def run(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.refresh_all()

    def complete(self) -> bool:
        """Whether every venue and symbol has a fresh book or pool state."""
        return all(
            (self.pool(v, s) if self.venues[v].kind == "amm" else self.book(v, s)) is not None
            for v, syms in self.symbols.items()
            for s in syms
        )

    def as_of(self) -> float | None:
        """The market time (the venues' own stamp, epoch seconds) of the oldest book or pool state
        held, once every venue and symbol has one; None before. A caller that moved a paper market's
        clock waits for this to reach it rather than for a fixed time."""
        if not self.complete():
            return None
        stamps = [b.timestamp for _, b in self.books.values()] + [p.timestamp for _, p in self.pools.values()]
        return min(stamps) if stamps else None

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        got = self.books.get((venue, symbol))
        return got[1] if got and time.time() - got[0] <= self.max_age_s else None

    def pool(self, venue: str, symbol: str) -> PoolState | None:
        got = self.pools.get((venue, symbol))
        return got[1] if got and time.time() - got[0] <= self.max_age_s else None

    def reference_price(self, symbol: str) -> float | None:
        """Median mid of the fresh CEX books (pools when no book is fresh)."""
        mids = [
            b.mid for (v, s) in self.books if s == symbol and (b := self.book(v, s)) is not None and b.mid
        ]
        if not mids:
            mids = [p.mid for (v, s) in self.pools if s == symbol and (p := self.pool(v, s)) is not None]
        return statistics.median(mids) if mids else None
