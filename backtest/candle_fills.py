"""The candle fill model: fills for venues that have candles (``raw.exchange_ohlcv``) but no book.

An order that reaches the venue at ``arrive_at`` is matched against the candle that covers its
arrival (the next one when it arrives at or after a candle's close), never an earlier one: an order
decided at a bar's close cannot fill at that close.

* **Market orders** take at the candle's open (the first traded price after arrival), worse by half
  the assumed spread and by a slippage linear in the share of the participation cap they take, and
  **clamped to the candle's [low, high]**: no fill at a price that did not trade.
* **Limit orders** take as a market order when that price is within the limit; otherwise they fill
  at the limit only when the candle's range goes through it (a buy when ``low < limit``).
* **Participation cap**: our orders take at most ``participation`` of a candle's volume together;
  an IOC's rest is cancelled, a GTC order's rest waits for the next candles (until the next bar
  replaces it).
* **Fees** as the book path: the venue's fee on the notional.

Candles are matched once they have closed (at the first watermark at or after their close), so the
whole candle (its range and volume) is known when it is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.market import Market
from execution.venues.matching import PaperVenueSpec
from kimera.config import BacktestCandles

BOOK, CANDLES = "book", "candles"


@dataclass(frozen=True)
class Candle:
    open_time: int  # µs
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


def candles_from(market: Market, venue: str, symbol: str, after: int, until: int) -> list[Candle]:
    """The closed candles of ``venue``/``symbol`` whose close is after ``after`` and at or before
    ``until`` (both epoch µs), oldest first."""
    c = market.candles.cols
    if not len(market.candles):
        return []
    mask = (c["key"] == f"{venue}|{symbol}") & (c["end"] > after) & (c["end"] <= until)
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(c["ts"][idx], kind="stable")]
    return [
        Candle(
            int(c["ts"][i]),
            int(c["end"][i]),
            *(float(c[n][i]) for n in ("open", "high", "low", "close", "volume")),
        )
        for i in idx
    ]


def last_close(market: Market, venue: str, symbol: str, t: int) -> tuple[float, float] | None:
    """(close, volume) of the newest candle of ``venue``/``symbol`` closed at or before ``t``."""
    c = market.candles.cols
    if not len(market.candles):
        return None
    idx = np.flatnonzero((c["key"] == f"{venue}|{symbol}") & (c["end"] <= t))
    if not len(idx):
        return None
    last = idx[np.argmax(c["end"][idx])]
    return float(c["close"][last]), float(c["volume"][last])


def venue_fill_models(con, start, end) -> dict[str, str]:
    """Per venue with data in ``[start, end)``: ``book`` when ``raw.order_book_snapshots`` has its
    books (the default wherever books exist), else ``candles`` when ``raw.exchange_ohlcv`` has its
    candles. ``con`` is a read-only connection to the warehouse."""
    present = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    models: dict[str, str] = {}
    for table, column, model in (
        ("exchange_ohlcv", "open_time", CANDLES),
        ("order_book_snapshots", "ts", BOOK),
    ):
        if table in present:
            for (venue,) in con.execute(
                f"select distinct venue from raw.{table} where {column} >= ? and {column} < ?", [start, end]
            ).fetchall():
                models[venue] = model  # books last: a venue with books uses them
    return dict(sorted(models.items()))


class CandleFills:
    """Matches the orders of the candle venues of a backtest (see the module's docstring)."""

    def __init__(self, market: Market, settings: BacktestCandles):
        self.market = market
        self.settings = settings
        self._taken: dict[tuple[str, str, int], float] = {}  # (venue, symbol, candle open) -> amount we took

    def match(self, o, spec: PaperVenueSpec, until: int, fill) -> None:
        """Fill ``o`` (a :class:`backtest.fills.SimOrder`) on the candles closed by ``until``;
        ``fill(order, price, amount, fee, ts, liquidity)`` records each fill."""
        s = self.settings
        after = max(o.arrive_at, o.seen_until)  # a candle closing at or before arrival is not used
        for candle in candles_from(self.market, o.venue, o.symbol, after, until):
            o.seen_until = candle.close_time
            key = (o.venue, o.symbol, candle.open_time)
            cap = s.participation * candle.volume - self._taken.get(key, 0.0)
            take = min(o.remaining, cap)
            if take > 1e-12:
                price, how = self._price(o, candle, take)
                if price is not None:
                    self._taken[key] = self._taken.get(key, 0.0) + take
                    fill(o, price, take, price * take * spec.fee, max(o.arrive_at, candle.open_time), how)
            if o.remaining <= 1e-12:
                o.status = "filled"
                return
            if o.tif == "ioc":
                o.status = "partial" if o.filled else "cancelled"
                o.reason = (
                    f"IOC remainder cancelled: participation cap of {s.participation:.0%} of the candle's volume"
                    if o.filled
                    else "IOC: the candle's range did not reach the limit"
                    if cap > 1e-12
                    else "IOC: no volume left in the candle under the participation cap"
                )
                return
            o.status = "resting"  # the rest waits for the next candles

    def _price(self, o, candle: Candle, take: float) -> tuple[float | None, str]:
        """The price ``take`` of ``o`` fills at on ``candle`` (None: the limit was not reached)."""
        s = self.settings
        share = take / (s.participation * candle.volume) if candle.volume > 0 else 1.0
        bps = s.spread_bps / 2 + s.impact_bps * share
        if o.side == "buy":
            taker = min(candle.high, candle.open * (1 + bps / 1e4))
            if o.limit is None or taker <= o.limit:
                return taker, "taker"
            return (float(o.limit), "maker") if candle.low < o.limit else (None, "")
        taker = max(candle.low, candle.open * (1 - bps / 1e4))
        if o.limit is None or taker >= o.limit:
            return taker, "taker"
        return (float(o.limit), "maker") if candle.high > o.limit else (None, "")


__all__ = ["BOOK", "CANDLES", "Candle", "CandleFills", "candles_from", "last_close", "venue_fill_models"]
