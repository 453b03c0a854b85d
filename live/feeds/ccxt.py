"""ccxt.pro trade (and order-book) watchers as the loop's feed: candles from trades on exchange time.

One watcher per configured venue and asset (``exchange.ccxt_venues``) runs the real ccxt.pro class.
Trades become ``raw.exchange_trades`` rows (each trade id once) and, through
:class:`~live.bars.CandleBuilder`, ``raw.exchange_ohlcv`` candles; the watermark is the exchange's
clock as :class:`~live.bars.ExchangeTime` estimates it from the trades' own timestamps, less a
``grace`` for delivery; the grace must also cover the time it takes to notice a dropped connection
(a trade that arrives after its candle closed is late: counted, landed, never added). A dropped websocket is reconnected with backoff and the trades it missed are
fetched over REST (``fetch_trades`` since the last one seen) before its candles are closed; while a
stream is reconnecting the watermark waits at its last trade. When the backfill fails too, the
stretch is a :class:`~live.events.Gap`: its candles are never invented and the loop marks the bars
it touches. ccxt.pro keeps only the newest ``tradesLimit`` trades of a symbol between two
``watch_trades`` calls and drops older ones without a word, so a loop that falls behind a fast
stream would build candles from part of their trades: a batch as long as that cache is taken as an
overflow and the stretch before it is fetched over REST the same way (or marked, when it cannot be). With ``books`` (:class:`~live.feeds.books.BookWatchers`), the order books of the same
venues and assets are watched too and sampled as ``raw.order_book_snapshots`` on exchange time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from kimera.schema import EXCHANGE_TRADES, conform
from live.bars import CandleBuilder, ExchangeTime, floor_time
from live.clock import Clock
from live.events import Event, Gap, RawRows, Watermark
from live.feeds.books import BookWatchers

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1)


def ms_to_time(ms: float) -> datetime:
    return EPOCH + timedelta(milliseconds=int(ms))


@dataclass
class Stream:
    """One venue's symbol: its watcher's client and what it has seen."""

    venue: str
    symbol: str
    exchange: Any  # a ccxt.pro exchange (async)
    last_ts: datetime | None = None
    seen: deque[str] = field(default_factory=lambda: deque(maxlen=20_000))
    seen_set: set[str] = field(default_factory=set)
    reconnecting_since: datetime | None = None
    backfilling: bool = False  # fetching what its websocket lost: the watermark waits for it
    delivered_ts: datetime | None = None  # the newest trade its websocket handed over (queued or not)

    def fresh(self, trade_id: str) -> bool:
        if trade_id in self.seen_set:
            return False
        if len(self.seen) == self.seen.maxlen:
            self.seen_set.discard(self.seen[0])
        self.seen.append(trade_id)
        self.seen_set.add(trade_id)
        return True


@dataclass
class FeedStats:
    trades: int = 0
    backfilled: int = 0
    reconnects: int = 0
    gaps: int = 0
    overflows: int = 0  # watch_trades batches that filled ccxt.pro's trade cache (older trades dropped)


class CcxtFeed:
    def __init__(
        self,
        streams: list[Stream],
        candle: timedelta,
        grace: timedelta = timedelta(seconds=2),
        tick: timedelta = timedelta(milliseconds=200),
        max_backoff_s: float = 5.0,
        books: BookWatchers | None = None,
    ) -> None:
        self.streams, self.grace, self.tick, self.max_backoff_s = streams, grace, tick, max_backoff_s
        self.books = books  # order-book watchers sampled on the same exchange time (None: trades only)
        self.builder = CandleBuilder(candle)
        self.exchange_time = ExchangeTime()
        self.stats = FeedStats()
        self._queue: asyncio.Queue[tuple[Stream, list[dict], bool] | Gap] = asyncio.Queue()

    def reference_tables(self) -> dict[str, pa.Table]:
        return {}  # no chain on this feed: chain features stay NULL, as in the batch build without it

    async def events(self, clock: Clock) -> AsyncIterator[Event]:
        watchers = [asyncio.create_task(self._watch(s, clock)) for s in self.streams]
        watchers += self.books.tasks() if self.books else []
        last_mark: datetime | None = None
        try:
            while True:
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that lands as the
                # queue hands over an item, and the feed would then never stop
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.tick.total_seconds()):
                        item = await self._queue.get()
                    if isinstance(item, Gap):
                        self.builder.mark_gap(item.venue, item.symbol, item.start, item.end)
                        self.stats.gaps += 1
                        yield item
                    else:
                        rows = self._trades(*item, clock)
                        if rows.num_rows:
                            yield RawRows("exchange_trades", rows, clock.monotonic())
                for failed in (w for w in watchers if w.done() and w.exception()):
                    raise failed.exception()  # type: ignore[misc]
                if self.books and self.exchange_time.known:
                    # stamped on exchange time ahead of the watermark (which lags by the grace)
                    snapshots = self.books.sample(self.exchange_time.now(clock.now()))
                    if snapshots is not None:
                        yield RawRows("order_book_snapshots", snapshots, clock.monotonic())
                mark = self._watermark(clock)
                if mark is None:
                    continue
                mark = floor_time(mark, self.builder.timeframe)  # watermarks move candle by candle
                if last_mark is not None and mark <= last_mark:
                    continue
                candles = self.builder.close_until(mark)
                if candles.num_rows:
                    yield RawRows("exchange_ohlcv", candles, clock.monotonic())
                last_mark = mark
                yield Watermark(mark, clock.monotonic())
        finally:
            for w in watchers:
                w.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            for exchange in {id(s.exchange): s.exchange for s in self.streams}.values():
                with contextlib.suppress(Exception):
                    await exchange.close()

    def _watermark(self, clock: Clock) -> datetime | None:
        if not self.exchange_time.known:
            return None
        mark = self.exchange_time.now(clock.now()) - self.grace
        for s in self.streams:  # a reconnecting stream holds every bar until its backfill is in
            if (s.reconnecting_since is not None or s.backfilling) and s.last_ts is not None:
                mark = min(mark, s.last_ts)
        return mark

    def _trades(self, stream: Stream, trades: list[dict], backfill: bool, clock: Clock) -> pa.Table:
        rows = []
        now = clock.now()
        for t in trades:
            trade_id = str(t["id"])
            if not stream.fresh(trade_id):
                continue
            ts = ms_to_time(t["timestamp"])
            if not backfill:
                self.exchange_time.observe(ts, now)
            self.builder.add_trade(stream.venue, stream.symbol, ts, float(t["price"]), float(t["amount"]))
            stream.last_ts = max(stream.last_ts or ts, ts)
            rows.append({"venue": stream.venue, "symbol": stream.symbol, "trade_id": trade_id, "ts": ts,
                         "side": t["side"], "price": float(t["price"]), "amount": float(t["amount"])})  # fmt: skip
        self.stats.trades += len(rows)
        self.stats.backfilled += len(rows) if backfill else 0
        return conform(EXCHANGE_TRADES, pa.Table.from_pylist(rows)) if rows else EXCHANGE_TRADES.empty()

    async def _watch(self, stream: Stream, clock: Clock) -> None:
        import ccxt

        backoff = 0.1
        while True:
            try:
                trades = await stream.exchange.watch_trades(stream.symbol)
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                if stream.reconnecting_since is None:
                    stream.reconnecting_since = clock.now()
                    self.stats.reconnects += 1
                    log.warning("%s %s: websocket lost (%s); reconnecting", stream.venue, stream.symbol, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            first = ms_to_time(min(t["timestamp"] for t in trades)) if trades else None
            if stream.reconnecting_since is not None:
                await self._backfill(stream, clock, "websocket dropped", first)
                stream.reconnecting_since = None
                backoff = 0.1
            elif trades and len(trades) >= trade_cache_size(stream.exchange):
                # ccxt.pro's cache was full: trades older than this batch may have been dropped
                self.stats.overflows += 1
                log.warning("%s %s: the stream outran the loop (%d trades in one batch); fetching what it "
                            "dropped over REST", stream.venue, stream.symbol, len(trades))  # fmt: skip
                stream.backfilling = True
                try:
                    await self._backfill(stream, clock, "the stream outran the loop", first)
                finally:
                    stream.backfilling = False
            if trades:
                newest = ms_to_time(max(t["timestamp"] for t in trades))
                stream.delivered_ts = max(stream.delivered_ts or newest, newest)
            await self._queue.put((stream, trades, False))

    async def _backfill(self, stream: Stream, clock: Clock, why: str, until: datetime | None = None) -> None:
        """Trades missed since the last one the websocket delivered, over REST, page by page up to
        ``until`` (the first trade it delivered after the loss; None: one page); a Gap when they
        cannot be had. Pages start at the last trade's millisecond, not after it: a burst shares its
        millisecond, and the trades already seen are dropped by id."""
        since = stream.delivered_ts or stream.last_ts
        if since is None:
            return  # nothing seen yet: the stream's first candle is never emitted anyway
        fetched: list[dict] = []
        try:
            ms = int((since - EPOCH).total_seconds() * 1000)
            for _ in range(MAX_BACKFILL_PAGES):
                page = await stream.exchange.fetch_trades(stream.symbol, since=ms, limit=BACKFILL_PAGE)
                fetched += page
                newest = max((t["timestamp"] for t in page), default=ms)
                if until is None or len(page) < BACKFILL_PAGE or ms_to_time(newest) >= until or newest <= ms:
                    break
                ms = newest
            else:
                raise RuntimeError(f"more than {MAX_BACKFILL_PAGES} pages of {BACKFILL_PAGE} trades missing")
        except Exception as exc:  # the stretch is lost: say so, never invent it
            reason = f"{why} and the REST backfill failed: {type(exc).__name__}"
            end = until or self.exchange_time.now(clock.now())
            await self._queue.put(Gap(stream.venue, stream.symbol, since, end, reason))
            return
        await self._queue.put((stream, fetched, True))


BACKFILL_PAGE = 1000
MAX_BACKFILL_PAGES = 50  # beyond that many trades lost, the stretch is a gap


def trade_cache_size(exchange: Any) -> int:
    """How many trades of a symbol ccxt.pro keeps between two ``watch_trades`` calls."""
    return int((exchange.options or {}).get("tradesLimit", 1000))
