"""Exchange market data from any ccxt exchange over REST (``exchange.source: ccxt``).

* OHLCV: paged with ``since``/``limit`` until the window (or the last closed bar) is reached;
  missing bars are detected on the timeframe's grid, asked for again once (``backfill_gaps``),
  and whatever is still missing is recorded in ``raw.exchange_gaps`` - never filled in.
* Trades: paged forward by time, de-duplicated by trade id; unioned with trades that
  ``kimera stream`` landed for the window.
* Order books: exchanges serve only the current book, so a REST snapshot is taken when the window
  contains "now"; past books are the ones ``kimera stream`` landed.

Every request goes through ccxt's rate limiter and :mod:`pipelines.sources.retry`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pyarrow as pa

from connect.ccxt import (
    build_exchange,
    check_symbol,
    is_transient,
    retry_after_of,
    secrets_of,
    venue_symbol,
)
from kimera.config import CcxtMarketData, KimeraConfig
from kimera.schema import EXCHANGE_GAPS, EXCHANGE_OHLCV, EXCHANGE_TRADES, ORDER_BOOK_SNAPSHOTS
from kimera.settings import Settings, get_settings
from pipelines.landing.files import land, read_landed
from pipelines.sources.gaps import expected_opens, gap_rows, missing_runs
from pipelines.sources.retry import call_with_retries
from pipelines.sources.rows import dedupe, ms_to_ts, table_from_records, ts_to_ms

log = logging.getLogger(__name__)
T = TypeVar("T")
HOUR_MS = 3_600_000
# The newest ended window still gets a book snapshot this long after its end (the hourly ingest runs
# a few minutes past the hour).
NEWEST_WINDOW_GRACE = timedelta(hours=1)


def trade_record(venue: str, symbol: str, trade: dict[str, Any]) -> dict[str, Any]:
    """A ``raw.exchange_trades`` row from a ccxt trade; a missing side is stored as ``unknown``."""
    trade_id = trade.get("id")
    if trade_id is None:  # a few exchanges give no id: key the trade by what identifies it
        trade_id = f"{trade['timestamp']}-{trade['price']}-{trade['amount']}-{trade.get('side')}"
    return {
        "venue": venue,
        "symbol": symbol,
        "trade_id": str(trade_id),
        "ts": ms_to_ts(trade["timestamp"]),
        "side": trade.get("side") or "unknown",
        "price": float(trade["price"]),
        "amount": float(trade["amount"]),
    }


def book_records(venue: str, symbol: str, book: dict[str, Any], ts: datetime, depth: int) -> list[dict]:
    """``raw.order_book_snapshots`` rows (one per side and level) from a ccxt order book."""
    rows = []
    for side, levels in (("bid", book.get("bids") or []), ("ask", book.get("asks") or [])):
        for level, entry in enumerate(levels[:depth]):
            rows.append(
                {
                    "venue": venue,
                    "symbol": symbol,
                    "ts": ts,
                    "side": side,
                    "level": level,
                    "price": float(entry[0]),
                    "amount": float(entry[1]),
                }
            )
    return rows


class VenueClient:
    """One configured exchange: its ccxt client (built lazily), symbols and retried calls."""

    def __init__(self, venue: CcxtMarketData, config: KimeraConfig, settings: Settings) -> None:
        self.venue = venue
        self.config = config
        self.retry = config.exchange.retry
        self.exchange = build_exchange(venue, self.retry, settings=settings)
        self._markets_loaded = False
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.venue.venue

    def call(self, what: str, fn: Callable[[], T]) -> T:
        def attempt() -> T:
            self.exchange.last_response_headers = None  # so a stale Retry-After is never used
            return fn()

        return call_with_retries(
            attempt,
            config=self.retry,
            what=f"{self.name} {what}",
            retryable=is_transient,
            retry_after=retry_after_of(self.exchange),
            secrets=secrets_of(self.exchange),
        )

    def symbols(self) -> list[str]:
        """Unified symbols of the configured assets on this exchange (checked once)."""
        with self._lock:
            if not self._markets_loaded:
                self.call("load_markets", self.exchange.load_markets)
                self._markets_loaded = True
        wanted = [venue_symbol(self.venue, a.symbol, a.quote) for a in self.config.assets]
        for symbol in wanted:
            check_symbol(self.exchange, symbol)
        return wanted

    def page_limit(self, method: str, fallback: int) -> int:
        if self.venue.page_limit:
            return self.venue.page_limit
        features = (getattr(self.exchange, "features", None) or {}).get("spot") or {}
        limit = (features.get(method) or {}).get("limit")
        return int(limit) if limit else fallback

    def now_ms(self) -> int:
        return int(self.exchange.milliseconds())


class CcxtExchangeSource:
    """:class:`~pipelines.sources.base.ExchangeSource` over ccxt REST, for every configured venue."""

    def __init__(self, config: KimeraConfig, settings: Settings | None = None) -> None:
        self.config = config
        self.settings = settings or get_settings()
        self._venues = [VenueClient(v, config, self.settings) for v in config.exchange.ccxt_venues]
        self._gaps: dict[tuple[datetime, datetime], pa.Table] = {}

    # --- ExchangeSource ---------------------------------------------------------------------------
    def venues(self) -> list[str]:
        return [v.name for v in self._venues]

    def ohlcv(self, start: datetime, end: datetime) -> pa.Table:
        timeframe = self.config.exchange.timeframe
        candles, gaps = [], []
        for venue in self._venues:
            for symbol in venue.symbols():
                rows, found = self._ohlcv_one(venue, symbol, timeframe, start, end)
                candles.extend(rows)
                if found.num_rows:
                    gaps.append(found)
        self._gaps[(start, end)] = pa.concat_tables(gaps) if gaps else EXCHANGE_GAPS.empty()
        return table_from_records(EXCHANGE_OHLCV, candles)

    def trades(self, start: datetime, end: datetime) -> pa.Table:
        fetched = []
        for venue in self._venues:
            for symbol in venue.symbols():
                fetched.extend(page_trades(venue, symbol, start, end))
        landed = read_landed(self.settings.landing_dir, EXCHANGE_TRADES, self.venues(), start, end)
        return dedupe(EXCHANGE_TRADES, [table_from_records(EXCHANGE_TRADES, fetched), landed])

    def order_books(self, start: datetime, end: datetime) -> pa.Table:
        """A REST snapshot per symbol when the window holds now, or is the newest that has ended
        (partitions exist only for ended hours, so the hourly ingest asks for that one). A snapshot
        keeps the time it was taken: one after the window is landed, and stored with the window
        that holds its time (never back-dated into this one); past books are what `kimera stream` landed."""
        depth = self.config.exchange.book_depth
        snapshots = []
        for venue in self._venues:
            now = ms_to_ts(venue.now_ms())
            if not start <= now < end + NEWEST_WINDOW_GRACE:
                continue
            later = []
            for symbol in venue.symbols():
                book = venue.call(
                    f"fetch_order_book {symbol}",
                    lambda v=venue, s=symbol: v.exchange.fetch_order_book(s, depth),
                )
                stamp = ms_to_ts(book["timestamp"]) if book.get("timestamp") else now
                if not start <= stamp < end + NEWEST_WINDOW_GRACE:
                    stamp = now
                records = book_records(venue.name, symbol, book, stamp, depth)
                (snapshots if stamp < end else later).extend(records)
            if later:
                land(
                    self.settings.landing_dir,
                    ORDER_BOOK_SNAPSHOTS,
                    venue.name,
                    table_from_records(ORDER_BOOK_SNAPSHOTS, later),
                )
        landed = read_landed(self.settings.landing_dir, ORDER_BOOK_SNAPSHOTS, self.venues(), start, end)
        return dedupe(ORDER_BOOK_SNAPSHOTS, [table_from_records(ORDER_BOOK_SNAPSHOTS, snapshots), landed])

    # --- gaps ---------------------------------------------------------------------------------------
    def gaps(self, start: datetime, end: datetime) -> pa.Table:
        """``raw.exchange_gaps`` rows found while fetching candles for ``[start, end)``.

        Write them with ``replace_window(..., scope=source.gap_scope())``.
        """
        if (start, end) not in self._gaps:
            self.ohlcv(start, end)
        return self._gaps[(start, end)]

    def gap_scope(self) -> dict[str, list[str]]:
        """The part of ``raw.exchange_gaps`` this source rewrites (REST candle gaps of its venues)."""
        return {"venue": self.venues(), "dataset": ["ohlcv"], "origin": ["rest"]}

    # --- one venue and symbol ----------------------------------------------------------------------
    def _page_ohlcv(
        self, venue: VenueClient, symbol: str, timeframe: str, since: int, stop: int, step: int
    ) -> dict[int, list]:
        limit = venue.page_limit("fetchOHLCV", 500)
        got: dict[int, list] = {}
        while since < stop:
            page = venue.call(
                f"fetch_ohlcv {symbol} {timeframe} since {ms_to_ts(since):%Y-%m-%d %H:%M}",
                lambda s=since: venue.exchange.fetch_ohlcv(symbol, timeframe, s, limit),
            )
            inside = [c for c in page if since <= c[0] < stop and None not in c[:6]]
            if not inside:
                break
            for candle in inside:
                got[int(candle[0])] = candle
            newest = max(int(c[0]) for c in inside)
            since = newest + step
        return got

    def _ohlcv_one(
        self, venue: VenueClient, symbol: str, timeframe: str, start: datetime, end: datetime
    ) -> tuple[list[dict], pa.Table]:
        step = int(venue.exchange.parse_timeframe(timeframe) * 1000)
        now_ms = venue.now_ms()
        current_open = now_ms // step * step  # the bar still forming: not stored until closed
        stop = min(ts_to_ms(end), current_open)
        grid = expected_opens(ts_to_ms(start), stop, step)
        got = self._page_ohlcv(venue, symbol, timeframe, grid.start, stop, step) if len(grid) else {}
        gaps = missing_runs(grid, got)
        if gaps and self.config.exchange.backfill_gaps:
            for gap in gaps:
                again = self._page_ohlcv(venue, symbol, timeframe, gap.first_ms, gap.end_ms, step)
                gap.recovered = len(again)
                got.update(again)
        if gaps:
            still = sum(g.missing - g.recovered for g in gaps)
            log.warning(
                "%s %s %s: %d gap(s) in [%s, %s), %d bar(s) the exchange does not have",
                venue.name, symbol, timeframe, len(gaps), start, end, still,
            )  # fmt: skip
        rows = [
            {
                "venue": venue.name,
                "symbol": symbol,
                "timeframe": timeframe,
                "open_time": ms_to_ts(open_ms),
                "open": float(c[1]),
                "high": float(c[2]),
                "low": float(c[3]),
                "close": float(c[4]),
                "volume": float(c[5]),
            }
            for open_ms, c in sorted(got.items())
        ]
        found = gap_rows(venue.name, symbol, "ohlcv", timeframe, gaps, "rest", ms_to_ts(now_ms))
        return rows, found


# Exchanges whose trade history by time answers at most an hour from `since` (ccxt sends Binance
# endTime = since + 1 hour): an empty answer says nothing about the next hour, so after the first
# trade they are paged by trade id (`fromId`), which skips empty spans instead of asking each hour.
ID_PAGED_EXCHANGES = frozenset({"binance", "binanceus", "binanceusdm", "binancecoinm"})


def page_trades(venue: VenueClient, symbol: str, start: datetime, end: datetime) -> list[dict]:
    """``raw.exchange_trades`` rows of ``symbol`` on ``venue`` in ``[start, end)``, paged forward.

    Requests: one per page of trades, plus (hour-bounded exchanges only) one per empty hour before
    the window's first trade. A time-paged exchange that answers everything after `since` (Kraken)
    is done when an answer holds nothing newer: one request after its last page, not one per hour
    up to the window's end.
    """
    limit = venue.page_limit("fetchTrades", 1000)
    since, stop = ts_to_ms(start), min(ts_to_ms(end), venue.now_ms() + 1)
    by_id = venue.exchange.id in ID_PAGED_EXCHANGES
    from_id: int | None = None
    seen: dict[str, dict] = {}
    while since < stop:
        if from_id is None:
            page = venue.call(
                f"fetch_trades {symbol} since {ms_to_ts(since):%Y-%m-%d %H:%M:%S}",
                lambda s=since: venue.exchange.fetch_trades(symbol, s, limit),
            )
        else:
            page = venue.call(
                f"fetch_trades {symbol} from id {from_id}",
                lambda i=from_id: venue.exchange.fetch_trades(symbol, None, limit, {"fromId": i}),
            )
        for trade in page:
            if ts_to_ms(start) <= trade["timestamp"] < stop:
                record = trade_record(venue.name, symbol, trade)
                seen.setdefault(record["trade_id"], record)
        stamps = [t["timestamp"] for t in page]
        if from_id is None and stamps and max(stamps) < since:
            break  # the exchange ignores `since` (recent trades only): nothing more to page
        if any(ts >= stop for ts in stamps):
            break  # the page reaches past the window: everything inside it is in hand
        if by_id:
            paged_by_id = from_id is not None
            if paged_by_id and len(page) < limit:
                break  # every trade up to now
            if page:
                from_id = max(int(t["id"]) for t in page) + 1
                since = max(max(stamps), since)
            else:
                since += HOUR_MS  # an empty hour before the first trade: the next one may have some
            continue
        if not page:
            break  # nothing after `since`: every trade up to now is in hand
        newest = max(stamps)
        if len(page) < limit and newest <= since:
            break  # a short page with nothing new (ccxt drops trades before `since` from a page)
        since = newest if newest > since else newest + 1  # same-ms trades: de-duplicated by id
    return list(seen.values())
