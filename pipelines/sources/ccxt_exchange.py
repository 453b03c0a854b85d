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
from datetime import datetime
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
from pipelines.landing.files import read_landed
from pipelines.sources.gaps import expected_opens, gap_rows, missing_runs
from pipelines.sources.retry import call_with_retries
from pipelines.sources.rows import dedupe, ms_to_ts, table_from_records, ts_to_ms

log = logging.getLogger(__name__)
T = TypeVar("T")
HOUR_MS = 3_600_000


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
        depth = self.config.exchange.book_depth
        snapshots = []
        for venue in self._venues:
            now = ms_to_ts(venue.now_ms())
            if not start <= now < end:
                continue
            for symbol in venue.symbols():
                book = venue.call(
                    f"fetch_order_book {symbol}",
                    lambda v=venue, s=symbol: v.exchange.fetch_order_book(s, depth),
                )
                stamp = ms_to_ts(book["timestamp"]) if book.get("timestamp") else now
                if not start <= stamp < end:
                    stamp = now
                snapshots.extend(book_records(venue.name, symbol, book, stamp, depth))
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


def page_trades(venue: VenueClient, symbol: str, start: datetime, end: datetime) -> list[dict]:
    """``raw.exchange_trades`` rows of ``symbol`` on ``venue`` in ``[start, end)``, paged forward by time."""
    limit = venue.page_limit("fetchTrades", 1000)
    since, stop = ts_to_ms(start), min(ts_to_ms(end), venue.now_ms() + 1)
    seen: dict[str, dict] = {}
    while since < stop:
        page = venue.call(
            f"fetch_trades {symbol} since {ms_to_ts(since):%Y-%m-%d %H:%M:%S}",
            lambda s=since: venue.exchange.fetch_trades(symbol, s, limit),
        )
        for trade in page:
            if since <= trade["timestamp"] < stop:
                record = trade_record(venue.name, symbol, trade)
                seen.setdefault(record["trade_id"], record)
        stamps = [t["timestamp"] for t in page]
        if stamps and max(stamps) < since:
            break  # the exchange ignores `since` (recent trades only): nothing more to page
        if any(ts >= stop for ts in stamps):
            break  # the page reaches past the window: everything inside it is in hand
        if len(page) < limit:
            since += HOUR_MS  # all it has from `since` (some exchanges answer an hour at a time)
            continue
        newest = max(stamps)
        since = newest if newest > since else newest + 1  # same-ms trades: de-duplicated by id
    return list(seen.values())
