"""``kimera stream``: ccxt.pro watchers landing trades and order-book snapshots as Parquet.

For every configured ccxt venue and asset, one task watches trades and one watches the order book.
Exchanges drop websocket connections (at least daily); a watcher that loses its connection waits
(exponential backoff up to ``stream.reconnect_max_s``), reconnects, and backfills the trades it
missed over REST before going on, recording the outage in ``raw.exchange_gaps``. Order books are
sampled every ``stream.book_seconds`` from the live book; a book that is not live is not sampled
(a missed book cannot be fetched later, and is never invented).

Rows are landed every ``stream.flush_seconds`` as complete Parquet files under
``KIMERA_HOME/landing/incoming``; the stream never opens DuckDB (the landing sensor loads them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import ccxt

from connect.ccxt import build_exchange, check_symbol, venue_symbol
from kimera.config import CcxtMarketData, ConfigError, KimeraConfig, load_config
from kimera.schema import EXCHANGE_GAPS, EXCHANGE_TRADES, ORDER_BOOK_SNAPSHOTS
from kimera.settings import Settings, get_settings, prepare_home
from pipelines.landing.files import land
from pipelines.sources.ccxt_exchange import VenueClient, book_records, page_trades, trade_record
from pipelines.sources.gaps import Gap, gap_rows
from pipelines.sources.retry import SourceUnavailable
from pipelines.sources.rows import ms_to_ts, table_from_records

log = logging.getLogger(__name__)
BOOK_INTERVAL_S = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600}


@dataclass
class StreamStats:
    trades: int = 0
    backfilled: int = 0
    snapshots: int = 0
    reconnects: int = 0
    files: int = 0
    gaps: int = 0


@dataclass
class _Buffers:
    trades: list[dict] = field(default_factory=list)
    books: list[dict] = field(default_factory=list)
    gaps: list[Any] = field(default_factory=list)  # Arrow tables of raw.exchange_gaps rows


class _Venue:
    """One exchange: a ccxt.pro client for the streams, a REST client for backfills, the buffers."""

    def __init__(self, venue: CcxtMarketData, config: KimeraConfig, settings: Settings) -> None:
        self.venue = venue
        self.name = venue.venue
        self.pro = build_exchange(venue, config.exchange.retry, pro=True, settings=settings)
        self.rest = VenueClient(venue, config, settings)
        self.symbols = [venue_symbol(venue, a.symbol, a.quote) for a in config.assets]
        self.buffers = _Buffers()
        self.books: dict[str, dict] = {}  # symbol -> latest live book
        self.book_live: dict[str, bool] = {}


class Streamer:
    """Runs the watchers until ``stop()`` (or ``seconds``), landing a micro-batch every flush."""

    def __init__(self, config: KimeraConfig, settings: Settings | None = None) -> None:
        if not config.exchange.ccxt_venues:
            raise ConfigError(
                "kimera stream needs exchange.ccxt_venues (e.g. [{exchange: binance}]) in the config"
            )
        self.config = config
        self.settings = settings or get_settings()
        self.stream = config.exchange.stream
        self.book_seconds = self.stream.book_seconds or BOOK_INTERVAL_S[config.exchange.book_interval]
        self.venues = [_Venue(v, config, self.settings) for v in config.exchange.ccxt_venues]
        self.stats = StreamStats()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, seconds: float | None = None) -> StreamStats:
        """Stream until stopped or ``seconds`` have passed; always lands what is buffered at the end.

        A watcher failing with anything but a dropped connection (which it survives) stops the
        stream and is raised, after the buffers are landed.
        """
        tasks: list[asyncio.Task] = []
        failure: BaseException | None = None
        try:
            for venue in self.venues:
                await self._load_markets(venue)
                for symbol in venue.symbols:
                    if self.stream.trades:
                        tasks.append(asyncio.create_task(self._watch_trades(venue, symbol)))
                    if self.stream.order_books:
                        tasks.append(asyncio.create_task(self._watch_book(venue, symbol)))
            tasks.append(asyncio.create_task(self._sample_books()))
            tasks.append(asyncio.create_task(self._flush_every()))
            stopper = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait(
                [stopper, *tasks], timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
            stopper.cancel()
            failure = next((t.exception() for t in done if t is not stopper and t.exception()), None)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.flush()
            for venue in self.venues:
                with contextlib.suppress(Exception):
                    await venue.pro.close()
        if failure is not None:
            raise failure
        return self.stats

    async def _load_markets(self, venue: _Venue) -> None:
        await asyncio.to_thread(venue.rest.symbols)  # checks every symbol, with retries, over REST
        await venue.pro.load_markets()
        for symbol in venue.symbols:
            check_symbol(venue.pro, symbol)

    # --- trades ---------------------------------------------------------------------------------
    async def _watch_trades(self, venue: _Venue, symbol: str) -> None:
        recent: deque[str] = deque(maxlen=50_000)
        seen: set[str] = set()
        last_ms: int | None = None  # time of the newest trade received
        dropped_at: int | None = None
        attempt = 0

        def keep(record: dict) -> bool:
            if record["trade_id"] in seen:
                return False
            if len(recent) == recent.maxlen:
                seen.discard(recent[0])
            recent.append(record["trade_id"])
            seen.add(record["trade_id"])
            venue.buffers.trades.append(record)
            return True

        while not self._stop.is_set():
            try:
                trades = await venue.pro.watch_trades(symbol)
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                attempt += 1
                if dropped_at is None:
                    dropped_at = int(time.time() * 1000)
                    log.warning("%s %s trades: connection lost (%s); reconnecting", venue.name, symbol, exc)
                await asyncio.sleep(min(self.stream.reconnect_max_s, 0.25 * 2**attempt))
                continue
            attempt = 0
            if dropped_at is not None and last_ms is not None and trades:
                first_new_ms = min(int(t["timestamp"]) for t in trades)
                await self._backfill(venue, symbol, last_ms, first_new_ms, keep)
                self.stats.reconnects += 1
            dropped_at = None
            for trade in trades:
                if keep(trade_record(venue.name, symbol, trade)):
                    self.stats.trades += 1
                    last_ms = max(last_ms or 0, int(trade["timestamp"]))

    async def _backfill(self, venue: _Venue, symbol: str, since_ms: int, until_ms: int, keep) -> None:
        """Fetch over REST the trades missed in ``[since_ms, until_ms]`` and record the outage."""
        gap = Gap(since_ms, until_ms + 1, 0)
        try:
            fetched = await asyncio.to_thread(
                page_trades, venue.rest, symbol, ms_to_ts(since_ms), ms_to_ts(until_ms + 1)
            )
        except SourceUnavailable as exc:
            gap.failed = True
            log.error(
                "%s %s: trades missed while disconnected could not be fetched: %s", venue.name, symbol, exc
            )
            fetched = []
        for record in sorted(fetched, key=lambda r: r["ts"]):
            if keep(record):
                gap.recovered += 1
        self.stats.backfilled += gap.recovered
        self.stats.gaps += 1
        venue.buffers.gaps.append(
            gap_rows(venue.name, symbol, "trades", None, [gap], "stream", ms_to_ts(int(time.time() * 1000)))
        )
        log.info("%s %s: backfilled %d trade(s) missed while disconnected", venue.name, symbol, gap.recovered)

    # --- order books ----------------------------------------------------------------------------
    async def _watch_book(self, venue: _Venue, symbol: str) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                book = await venue.pro.watch_order_book(symbol, self.config.exchange.book_depth)
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                if venue.book_live.get(symbol):
                    log.warning("%s %s book: connection lost (%s); reconnecting", venue.name, symbol, exc)
                venue.book_live[symbol] = False
                attempt += 1
                await asyncio.sleep(min(self.stream.reconnect_max_s, 0.25 * 2**attempt))
                continue
            attempt = 0
            venue.books[symbol] = {"bids": list(book["bids"]), "asks": list(book["asks"])}
            venue.book_live[symbol] = True

    async def _sample_books(self) -> None:
        depth = self.config.exchange.book_depth
        while True:
            await asyncio.sleep(self.book_seconds - (time.time() % self.book_seconds))
            stamp = ms_to_ts(int(time.time() * 1000))
            for venue in self.venues:
                for symbol, book in venue.books.items():
                    if venue.book_live.get(symbol):
                        venue.buffers.books.extend(book_records(venue.name, symbol, book, stamp, depth))
                        self.stats.snapshots += 1

    # --- landing --------------------------------------------------------------------------------
    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.stream.flush_seconds)
            self.flush()

    def flush(self) -> None:
        """Land every buffer as one complete file per table and venue."""
        landing = self.settings.landing_dir
        for venue in self.venues:
            buffers, venue.buffers = venue.buffers, _Buffers()
            batches = (
                (EXCHANGE_TRADES, table_from_records(EXCHANGE_TRADES, buffers.trades)),
                (ORDER_BOOK_SNAPSHOTS, table_from_records(ORDER_BOOK_SNAPSHOTS, buffers.books)),
            )
            for table, rows in batches:
                if land(landing, table, venue.name, rows) is not None:
                    self.stats.files += 1
            for gaps in buffers.gaps:
                if land(landing, EXCHANGE_GAPS, venue.name, gaps) is not None:
                    self.stats.files += 1


def run_stream_cli(seconds: float | None = None) -> None:
    """``kimera stream``: stream until Ctrl-C (or ``--seconds``), landing under KIMERA_HOME/landing."""
    import click

    settings = prepare_home()
    config = load_config(settings=settings)
    streamer = Streamer(config, settings)
    names = ", ".join(v.name for v in streamer.venues)
    click.echo(f"streaming {names} into {settings.landing_dir} (Ctrl-C to stop)")

    async def main() -> StreamStats:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, streamer.stop)
        return await streamer.run(seconds)

    stats = asyncio.run(main())
    click.echo(
        f"landed {stats.files} file(s): {stats.trades} trades ({stats.backfilled} backfilled after "
        f"{stats.reconnects} reconnect(s)), {stats.snapshots} book snapshots, {stats.gaps} gap record(s)"
    )
