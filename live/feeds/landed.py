"""A market-data feed whose trades and book snapshots also land as files for the warehouse.

``kimera live`` on ccxt.pro sees trades and books the warehouse has not: they land in the landing
folder (``live.landing.land_market_rows``), which the landing sensor loads exactly once, so the
warehouse keeps the record of what the loop traded on, late trades included. Rows are landed
after each watermark has been handled, so writing files never delays the bar it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from live.clock import Clock
from live.events import Event, RawRows, Watermark
from live.landing import MARKET_TABLES, land_market_rows


class LandingFeed:
    """``inner``'s events unchanged; its ``raw.exchange_trades`` and ``raw.order_book_snapshots``
    rows landed in ``landing_dir`` (``files`` counts the files written)."""

    def __init__(self, inner: Any, landing_dir: Path) -> None:
        self.inner, self.landing_dir = inner, landing_dir
        self.files = 0

    def reference_tables(self) -> dict[str, pa.Table]:
        return self.inner.reference_tables()

    async def events(self, clock: Clock) -> AsyncIterator[Event]:
        pending: dict[str, list[pa.Table]] = {}
        # aclosing: closing this feed closes the inner one at once (its websockets), not when collected
        try:
            async with contextlib.aclosing(self.inner.events(clock)) as events:
                async for event in events:
                    if isinstance(event, RawRows) and event.table in MARKET_TABLES:
                        pending.setdefault(event.table, []).append(event.rows)
                    yield event  # the loop handles it (a watermark closes its bars) before anything lands
                    if isinstance(event, Watermark) and pending:
                        batch, pending = pending, {}
                        await asyncio.to_thread(self._land, batch)
        finally:
            if pending:  # what was seen before a stop lands too
                self._land(pending)

    def _land(self, batch: dict[str, list[pa.Table]]) -> None:
        for table, parts in batch.items():
            self.files += len(land_market_rows(self.landing_dir, table, pa.concat_tables(parts)))
