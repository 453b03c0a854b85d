"""A deterministic market behind the test exchange: candles, trades and a live order book.

Everything is a pure function of (symbol, time), so a test can compute exactly what the exchange
holds for any window and compare it with what Kimera stored. Faults in the history are explicit:
``holes`` (the exchange has no data there, like a real outage) and ``flaky`` ranges (left out of
the first answer that covers them, served when asked again, like a lagging replica).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

T0_MS = 1_577_836_800_000  # 2020-01-01: trade number 0 of every symbol


@dataclass(frozen=True)
class Listing:
    """One spot pair as each dialect names it."""

    symbol: str  # ccxt unified, BTC/USDT
    base_price: float
    binance_id: str  # BTCUSDT
    kraken_id: str  # XBTUSDT
    kraken_base: str  # XXBT
    kraken_quote: str  # USDT
    phase: float = 0.0

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]


DEFAULT_LISTINGS = (
    Listing("BTC/USDT", 30_000.0, "BTCUSDT", "XBTUSDT", "XXBT", "USDT", 0.0),
    Listing("ETH/USDT", 2_000.0, "ETHUSDT", "ETHUSDT", "XETH", "USDT", 1.3),
    Listing("SOL/USDT", 100.0, "SOLUSDT", "SOLUSDT", "SOL", "USDT", 2.1),
)


@dataclass(frozen=True)
class Trade:
    id: int
    ts_ms: int
    price: float
    amount: float
    buyer_is_maker: bool  # Binance's "m": true means the taker sold

    @property
    def side(self) -> str:
        return "sell" if self.buyer_is_maker else "buy"


@dataclass
class BookState:
    """A live book: levels by price, and the id of the last change (Binance's lastUpdateId)."""

    update_id: int = 1
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)

    def levels(self, side: str, depth: int | None = None) -> list[tuple[float, float]]:
        book = self.bids if side == "bid" else self.asks
        ordered = sorted(book.items(), reverse=side == "bid")
        return ordered[:depth] if depth else ordered


class Market:
    """The exchange's data. ``now_ms`` is the wall clock unless a test pins it."""

    def __init__(
        self,
        listings: tuple[Listing, ...] = DEFAULT_LISTINGS,
        trade_interval_ms: int = 2000,
        book_levels: int = 20,
        trades_per_tick: int = 1,
        straggler_period_ms: int = 0,
        straggler_delay_ms: int = 8000,
    ) -> None:
        if trade_interval_ms < 1 or trades_per_tick < 1:
            raise ValueError(
                f"trade_interval_ms ({trade_interval_ms}) and trades_per_tick ({trades_per_tick}) must be >= 1"
            )
        self.listings = {listing.symbol: listing for listing in listings}
        self.trade_interval_ms = trade_interval_ms
        self.trades_per_tick = trades_per_tick  # a burst: this many trades share each tick's timestamp
        # one trade a `straggler_period_ms` (0: none), the first a second before each period ends,
        # reaches websocket subscribers `straggler_delay_ms` after its time, as a trade held up on
        # the exchange's side does: with a period dividing a minute, the last second of every minute
        # has one, delivered after its 1m candle closed (late)
        self.straggler_period_ms, self.straggler_delay_ms = straggler_period_ms, straggler_delay_ms
        self.book_levels = book_levels
        self.holes: dict[str, list[tuple[int, int]]] = {}
        self.flaky: dict[str, list[tuple[int, int]]] = {}
        self._flaky_served: set[tuple[str, int, int]] = set()
        self.books: dict[str, BookState] = {}
        self.book_events: dict[str, list[dict]] = {}
        self._lock = threading.Lock()
        self.pinned_now_ms: int | None = None

    # --- clock and prices ------------------------------------------------------------------------
    def now_ms(self) -> int:
        return self.pinned_now_ms if self.pinned_now_ms is not None else int(time.time() * 1000)

    def by_binance_id(self, market_id: str) -> Listing:
        return next(x for x in self.listings.values() if x.binance_id == market_id.upper())

    def by_kraken_id(self, market_id: str) -> Listing:
        return next(
            x for x in self.listings.values() if market_id in (x.kraken_id, x.symbol.replace("/", ""))
        )

    def mid(self, symbol: str, t_ms: float) -> float:
        listing = self.listings[symbol]
        x = t_ms / 1000.0
        return listing.base_price * math.exp(
            0.01 * math.sin(x / 5400 + listing.phase) + 0.002 * math.sin(x / 97 + 2 * listing.phase)
        )

    def in_hole(self, symbol: str, t_ms: int) -> bool:
        return any(a <= t_ms < b for a, b in self.holes.get(symbol, []))

    # --- candles ---------------------------------------------------------------------------------
    def candle(self, symbol: str, step_ms: int, open_ms: int) -> tuple[float, float, float, float, float]:
        """Open, high, low, close and volume of the bar opening at ``open_ms`` (2 and 5 decimals)."""
        points = [self.mid(symbol, open_ms + step_ms * k / 4) for k in range(5)]
        o, c = points[0], points[-1]
        h, lo = max(points) * 1.0004, min(points) * 0.9996
        volume = 1 + 10 * abs(math.sin(open_ms / 7_777_777 + self.listings[symbol].phase))
        return round(o, 2), round(h, 2), round(lo, 2), round(c, 2), round(volume * step_ms / 60_000, 5)

    def has_candle(self, symbol: str, step_ms: int, open_ms: int) -> bool:
        return not self.in_hole(symbol, open_ms)

    def candles(self, symbol: str, step_ms: int, since_ms: int, limit: int, until_ms: int | None = None):
        """Bars from ``since_ms`` (first open at or after it) up to now, at most ``limit``.

        The bar still forming is included, like real exchanges do. Flaky ranges are skipped the first
        time an answer covers them.
        """
        first = -(-since_ms // step_ms) * step_ms
        last_open = self.now_ms() // step_ms * step_ms
        if until_ms is not None:
            last_open = min(last_open, until_ms)
        out, skipped = [], set()
        open_ms = first
        while open_ms <= last_open and len(out) < limit:
            flaky = self._unserved_flaky(symbol, open_ms)
            if flaky is not None:
                skipped.add(flaky)
            elif self.has_candle(symbol, step_ms, open_ms):
                out.append((open_ms, *self.candle(symbol, step_ms, open_ms)))
            open_ms += step_ms
        with self._lock:
            self._flaky_served |= skipped  # served in full when asked again
        return out

    def _unserved_flaky(self, symbol: str, t_ms: int) -> tuple[str, int, int] | None:
        with self._lock:
            for a, b in self.flaky.get(symbol, []):
                if a <= t_ms < b and (symbol, a, b) not in self._flaky_served:
                    return (symbol, a, b)
        return None

    # --- trades ----------------------------------------------------------------------------------
    @classmethod
    def at_rate(cls, trades_per_s: float, **kwargs) -> Market:
        """A market streaming about ``trades_per_s`` trades a second per symbol: a tick every whole
        number of ms with a burst of trades on it (exchanges stamp several trades with the same ms).
        ``trades_per_s_per_symbol`` says what it is exactly."""
        if trades_per_s <= 0:
            raise ValueError(f"trades_per_s must be > 0, got {trades_per_s}")
        best = min(
            ((interval, burst) for burst in range(1, 65) for interval in range(2, 5001)
             if abs(burst * 1000 / interval - trades_per_s) / trades_per_s < 0.02),
            key=lambda x: (x[1], -x[0]),
            default=None,
        )  # fmt: skip
        if best is None:  # beyond 64 trades per 2 ms tick, or below one a 5 s
            raise ValueError(
                f"trades_per_s {trades_per_s} is out of the accepted range 0.2 .. 32000 per symbol"
            )
        return cls(trade_interval_ms=best[0], trades_per_tick=best[1], **kwargs)

    def is_straggler(self, trade_id: int) -> bool:
        period = self.straggler_period_ms
        if period <= 0 or trade_id % self.trades_per_tick:
            return False
        phase = (trade_id // self.trades_per_tick) * self.trade_interval_ms % period  # T0 is minute-aligned
        return period - 1000 <= phase < period - 1000 + self.trade_interval_ms

    @property
    def trades_per_s_per_symbol(self) -> float:
        return self.trades_per_tick * 1000 / self.trade_interval_ms

    def trade_ts(self, trade_id: int) -> int:
        """Time of trade ``trade_id`` (the same for every symbol; never decreasing, strictly increasing
        from one tick's burst to the next)."""
        tick = trade_id // self.trades_per_tick
        return T0_MS + tick * self.trade_interval_ms + (tick * 7919) % max(1, self.trade_interval_ms // 2)

    def trade(self, symbol: str, trade_id: int) -> Trade:
        ts = self.trade_ts(trade_id)
        wobble = 1 + 0.0002 * math.sin(trade_id * 1.7)
        amount = round(0.001 + (trade_id * 7907 % 1000) / 10_000, 5)
        return Trade(trade_id, ts, round(self.mid(symbol, ts) * wobble, 2), amount, trade_id % 3 == 0)

    def first_trade_id_at(self, t_ms: int) -> int:
        """Smallest id whose trade time is at or after ``t_ms``."""
        i = max(0, ((t_ms - T0_MS) // self.trade_interval_ms - 1) * self.trades_per_tick)
        while self.trade_ts(i) < t_ms:
            i += 1
        return i

    def trades_between(
        self, symbol: str, since_ms: int, until_ms: int, limit: int | None = None
    ) -> list[Trade]:
        """Trades with ``since_ms <= ts <= until_ms`` that have happened, oldest first."""
        until_ms = min(until_ms, self.now_ms())
        out, i = [], self.first_trade_id_at(since_ms)
        while limit is None or len(out) < limit:
            trade = self.trade(symbol, i)
            if trade.ts_ms > until_ms:
                break
            if not self.in_hole(symbol, trade.ts_ms):
                out.append(trade)
            i += 1
        return out

    def trades_from_id(self, symbol: str, from_id: int, limit: int) -> list[Trade]:
        """Trades with ``id >= from_id`` that have happened (a burst shares its ms), oldest first."""
        trades = self.trades_between(
            symbol, self.trade(symbol, from_id).ts_ms, self.now_ms(), limit + self.trades_per_tick
        )
        return [t for t in trades if t.id >= from_id][:limit]

    def last_trade_id(self, symbol: str) -> int:
        return self.first_trade_id_at(self.now_ms() + 1) - 1

    # --- order book ------------------------------------------------------------------------------
    def book_now(self, symbol: str) -> dict[str, dict[float, float]]:
        """The levels a fresh book would have now around the mid price."""
        now = self.now_ms()
        mid = self.mid(symbol, now)
        tick = round(mid * 0.0001, 2) or 0.01
        seed = now // 250
        bids, asks = {}, {}
        for k in range(1, self.book_levels + 1):
            amount = round(0.05 + ((seed + 31 * k) % 97) / 100, 4)
            bids[round(mid - k * tick, 2)] = amount
            asks[round(mid + k * tick, 2)] = round(amount * 1.1, 4)
        return {"bids": bids, "asks": asks}

    def tick_book(self, symbol: str) -> dict | None:
        """Move the live book to now; return Binance's depthUpdate diff, or None if unchanged."""
        with self._lock:
            state = self.books.setdefault(symbol, BookState())
            fresh = self.book_now(symbol)
            diff = {}
            for side, key in (("bids", "b"), ("asks", "a")):
                old, new = getattr(state, side), fresh[side]
                changes = [[p, 0.0] for p in old if p not in new]
                changes += [[p, a] for p, a in new.items() if old.get(p) != a]
                diff[key] = changes
                setattr(state, side, dict(new))
            if not diff["b"] and not diff["a"] and state.update_id > 1:
                return None
            first = state.update_id + 1
            state.update_id += 1 + len(diff["b"]) // 10  # update ids need not be consecutive per event
            event = {"U": first, "u": state.update_id, **diff, "E": self.now_ms()}
            self.book_events.setdefault(symbol, []).append(event)
            return event

    def book_snapshot(self, symbol: str) -> BookState:
        """A copy of the live book (started now if nobody ticked it yet)."""
        if symbol not in self.books:
            self.tick_book(symbol)
        with self._lock:
            state = self.books[symbol]
            return BookState(state.update_id, dict(state.bids), dict(state.asks))
