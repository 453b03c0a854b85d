"""ccxt.pro order-book watchers for the live feed: snapshots on exchange time.

One watcher per venue and asset keeps the live book (``watch_order_book``, which ccxt.pro keeps
in sync from the venue's diff stream). At every ``interval`` boundary of exchange time the feed
takes one ``raw.order_book_snapshots`` row per side and level of every book that is live, stamped
with that exchange time, as ``kimera stream`` samples them for the batch build. A book whose
websocket dropped is not live until ccxt.pro has re-synced it: its snapshots are missing, never
copied forward from a stale book (the batch build treats a missing snapshot the same way).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from kimera.schema import ORDER_BOOK_SNAPSHOTS, conform
from live.bars import floor_time

log = logging.getLogger(__name__)


@dataclass
class BookStats:
    updates: int = 0
    snapshots: int = 0
    reconnects: int = 0
    skipped: int = 0  # snapshot times at which a book was not live


@dataclass
class LiveBook:
    """One venue's symbol: its order book as last synced, and whether it is live."""

    venue: str
    symbol: str
    exchange: Any  # a ccxt.pro exchange (async)
    bids: list[tuple[float, float]] = field(default_factory=list)
    asks: list[tuple[float, float]] = field(default_factory=list)
    live: bool = False


class BookWatchers:
    """Watches every book and samples them on exchange time (``snapshot_due`` / ``snapshot``)."""

    def __init__(self, books: list[LiveBook], depth: int, interval: timedelta, max_backoff_s: float = 5.0):
        if depth < 1:
            raise ValueError(f"book depth must be at least 1 level, got {depth}")
        if interval <= timedelta(0):
            raise ValueError(f"book snapshot interval must be positive, got {interval}")
        self.books, self.depth, self.interval, self.max_backoff_s = books, depth, interval, max_backoff_s
        self.stats = BookStats()
        self._last_sample: datetime | None = None

    def tasks(self) -> list[asyncio.Task]:
        return [asyncio.create_task(self._watch(book)) for book in self.books]

    def sample(self, exchange_now: datetime) -> pa.Table | None:
        """The snapshot rows of the first ``interval`` boundary at or after the last one sampled,
        once exchange time has reached it; None when no boundary was crossed."""
        boundary = floor_time(exchange_now, self.interval)
        if self._last_sample is None:  # joined mid-interval: the first snapshot is the next boundary
            self._last_sample = boundary
            return None
        if boundary <= self._last_sample:
            return None
        self._last_sample = boundary
        rows = []
        for book in self.books:
            if not book.live:
                self.stats.skipped += 1
                continue
            for side, levels in (("bid", book.bids), ("ask", book.asks)):
                for level, (price, amount) in enumerate(levels[: self.depth]):
                    rows.append({"venue": book.venue, "symbol": book.symbol, "ts": boundary, "side": side,
                                 "level": level, "price": price, "amount": amount})  # fmt: skip
            self.stats.snapshots += 1
        return conform(ORDER_BOOK_SNAPSHOTS, pa.Table.from_pylist(rows)) if rows else None

    async def _watch(self, book: LiveBook) -> None:
        import ccxt

        backoff = 0.1
        while True:
            try:
                synced = await book.exchange.watch_order_book(book.symbol, self.depth)
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                if book.live:
                    self.stats.reconnects += 1
                    log.warning("%s %s book: websocket lost (%s); re-syncing", book.venue, book.symbol, exc)
                book.live = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            backoff = 0.1
            book.bids = [(float(p), float(a)) for p, a, *_ in synced["bids"][: self.depth]]
            book.asks = [(float(p), float(a)) for p, a, *_ in synced["asks"][: self.depth]]
            book.live = bool(book.bids and book.asks)
            self.stats.updates += 1
