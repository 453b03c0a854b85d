"""The event loop: feed events in, closed bars' online features out.

Raw rows go into the online feature buffer as they arrive. A bar closes when the feed's
watermark reaches its close (exchange time, never the host's clock: a skewed host cannot close a
bar early); its features are computed and handed to ``on_bar``, stamped with the stage times. A
bar that a :class:`~live.events.Gap` overlaps is handed over marked, and must not be traded.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from live.clock import Clock
from live.events import BarFeatures, Event, Gap, RawRows, Watermark
from live.features import OnlineFeatures

OnBar = Callable[[list[BarFeatures]], Awaitable[None] | None]
KEYS = ("asset", "bar_time")


class Feed(Protocol):
    def events(self, clock: Clock) -> Any: ...

    def reference_tables(self) -> dict[str, Any]: ...


@dataclass
class LoopStats:
    bars_closed: int = 0
    bars_marked: int = 0
    last_bar: datetime | None = None
    last_watermark: datetime | None = None
    feature_ms: list[float] = field(default_factory=list)


def first_close_after(moment: datetime, bar: timedelta) -> datetime:
    """The first bar close strictly after ``moment`` on the epoch-aligned bar grid."""
    epoch = datetime(1970, 1, 1)
    return epoch + ((moment - epoch) // bar + 1) * bar


class Loop:
    def __init__(self, clock: Clock, feed: Feed, features: OnlineFeatures, on_bar: OnBar) -> None:
        self.clock, self.feed, self.features, self.on_bar = clock, feed, features, on_bar
        self.stats = LoopStats()
        self._gaps: list[Gap] = []
        self._next_close: datetime | None = None
        # DuckDB work runs off the event loop so that a live sender's acks keep flowing; a replay
        # (``kimera backtest``) has nothing else to serve and calls it inline (no thread hop per event)
        self.offload = True

    async def run(self, max_bars: int | None = None) -> LoopStats:
        """Run until the feed ends (or ``max_bars`` bars have closed)."""
        for table, rows in self.feed.reference_tables().items():
            self.features.load_reference(table, rows)
        # aclosing: stopping at max_bars closes the feed now (its websockets, its last landed files),
        # not when the generator is collected after the event loop has gone
        async with contextlib.aclosing(self.feed.events(self.clock)) as events:
            async for event in events:
                await self.handle(event)
                if max_bars is not None and self.stats.bars_closed >= max_bars:
                    break
        return self.stats

    async def handle(self, event: Event) -> None:
        if isinstance(event, RawRows):
            # DuckDB works off the event loop (it releases the GIL): the sender's acks keep flowing
            await self._call(self.features.append, event.table, event.rows)
            if self._next_close is None:
                column = event.rows.schema.names
                time_column = "open_time" if "open_time" in column else "ts"
                first = min(event.rows.column(time_column).to_pylist())
                self._next_close = first_close_after(first, self.features.bar)
                if first != self._next_close - self.features.bar:
                    # the bar the loop started in lacks its beginning: never trade it
                    opened = self._next_close - self.features.bar
                    self._gaps.append(Gap("*", "*", opened, first, "the loop started inside this bar"))
        elif isinstance(event, Gap):
            self._gaps.append(event)
        elif isinstance(event, Watermark):
            self.stats.last_watermark = event.until
            while self._next_close is not None and self._next_close <= event.until:
                await self._close(self._next_close, event.received)
                self._next_close += self.features.bar

    async def _close(self, bar_time: datetime, received: float) -> None:
        started = self.clock.monotonic()
        rows = await self._call(self.features.close_bar, bar_time)
        done = self.clock.monotonic()
        self.stats.feature_ms.append((done - started) * 1e3)
        bars = []
        for row in rows:
            gap = self._gap_of(row["asset"], bar_time)
            values = {k: v for k, v in row.items() if k not in KEYS}
            stages = {"watermark": received, "features_start": started, "features_done": done}
            bars.append(BarFeatures(row["asset"], bar_time, values, gap, stages))
            self.stats.bars_marked += gap is not None
        self.stats.bars_closed += 1
        self.stats.last_bar = bar_time
        self._gaps = [g for g in self._gaps if g.end > bar_time]
        result = self.on_bar(bars)
        if inspect.isawaitable(result):
            await result
        await self._call(self.features.prune)

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args) if self.offload else fn(*args)

    def _gap_of(self, asset: str, bar_time: datetime) -> str | None:
        opened = bar_time - self.features.bar
        for gap in self._gaps:
            if (
                (gap.symbol in ("*", asset) or gap.symbol.split("/")[0] == asset)
                and gap.start < bar_time
                and gap.end > opened
            ):
                return f"{gap.venue} {gap.symbol} missing {gap.start}..{gap.end}: {gap.reason}"
        return None
