"""Candles from public trades, on exchange time, for feeds that stream trades (ccxt.pro).

A candle of ``timeframe`` covers ``[open_time, open_time + timeframe)`` of the trades' exchange
timestamps, never our receive times. It is emitted once the stream's exchange-time watermark
passes its close; the watermark comes from :class:`ExchangeTime`, which tracks how far our clock
is from the exchange's, so a skewed host neither closes candles early nor waits forever.

Policies (stated once, here):

* **Late trade**: a trade for a candle already emitted is not added to it (a candle, once handed
  on, is never revised online); it is counted in ``late_trades`` and still lands in
  ``raw.exchange_trades`` with everything else, so the warehouse keeps it and the next batch
  build of the features includes it.
* **Quiet minute**: a candle with no trade is emitted flat at the previous close with zero volume,
  as Binance and most venues publish it; before a stream's first trade nothing is emitted.
* **Joining**: a stream's first candle misses the trades before the watcher joined: it is never
  emitted (its close seeds the next quiet candle).
* **Gap**: minutes of a stream the feed lost (websocket down, not backfilled) are not emitted at
  all (a gap is never filled with invented candles); the feed reports them as ``Gap`` events and
  the loop marks the bars they touch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa

from kimera.schema import EXCHANGE_OHLCV, conform

EPOCH = datetime(1970, 1, 1)


def floor_time(moment: datetime, step: timedelta) -> datetime:
    return EPOCH + ((moment - EPOCH) // step) * step


@dataclass
class _Candle:
    open_time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass
class _Stream:
    emitted_until: datetime | None = None  # every candle opening before this was handed on
    last_close: float | None = None
    open: dict[datetime, _Candle] = field(default_factory=dict)
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)


class CandleBuilder:
    """Trades in (any order within the watermark), closed candles out, one stream per venue+symbol."""

    def __init__(self, timeframe: timedelta) -> None:
        if timeframe <= timedelta(0) or timedelta(days=1) % timeframe:
            raise ValueError(f"a candle timeframe must divide a day, got {timeframe}")
        self.timeframe = timeframe
        self.timeframe_text = _timeframe_text(timeframe)
        self.streams: dict[tuple[str, str], _Stream] = {}
        self.late_trades = 0

    def add_trade(self, venue: str, symbol: str, ts: datetime, price: float, amount: float) -> bool:
        """Add one trade; False (and counted) when its candle was already emitted."""
        stream = self.streams.setdefault((venue, symbol), _Stream())
        opened = floor_time(ts, self.timeframe)
        if stream.emitted_until is not None and opened < stream.emitted_until:
            self.late_trades += 1
            return False
        candle = stream.open.get(opened)
        if candle is None:
            stream.open[opened] = _Candle(opened, price, price, price, price, amount)
        else:
            candle.high, candle.low = max(candle.high, price), min(candle.low, price)
            candle.close = price
            candle.volume += amount
        return True

    def mark_gap(self, venue: str, symbol: str, start: datetime, end: datetime) -> None:
        """``[start, end)`` of the stream is lost: the candles it touches are never emitted."""
        self.streams.setdefault((venue, symbol), _Stream()).gaps.append((start, end))

    def close_until(self, watermark: datetime) -> pa.Table:
        """Every candle that closed by ``watermark`` (exchange time), as ``raw.exchange_ohlcv`` rows."""
        rows: list[dict] = []
        limit = floor_time(watermark, self.timeframe)  # candles opening before this have closed
        for (venue, symbol), stream in self.streams.items():
            start = stream.emitted_until
            if start is None:
                if not stream.open:
                    continue
                # a stream's first candle lacks the trades before it was joined: never emitted
                first = min(stream.open)
                if first + self.timeframe > limit:
                    continue
                partial = stream.open.pop(first)
                stream.last_close = partial.close
                start = first + self.timeframe
            t = start
            while t < limit:
                candle = stream.open.pop(t, None)
                lost = any(g0 < t + self.timeframe and g1 > t for g0, g1 in stream.gaps)
                if candle is None and stream.last_close is not None and not lost:
                    close = stream.last_close
                    candle = _Candle(t, close, close, close, close, 0.0)
                if candle is not None and not lost:
                    rows.append(
                        {
                            "venue": venue,
                            "symbol": symbol,
                            "timeframe": self.timeframe_text,
                            "open_time": t,
                            "open": candle.open,
                            "high": candle.high,
                            "low": candle.low,
                            "close": candle.close,
                            "volume": candle.volume,
                        }
                    )
                    stream.last_close = candle.close
                t += self.timeframe
            stream.emitted_until = max(t, start)
            stream.gaps = [g for g in stream.gaps if g[1] > stream.emitted_until]
        if not rows:
            return EXCHANGE_OHLCV.empty()
        return conform(EXCHANGE_OHLCV, pa.Table.from_pylist(rows))


def _timeframe_text(step: timedelta) -> str:
    seconds = int(step.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise ValueError(f"a timeframe is whole seconds, got {step}")


class ExchangeTime:
    """The exchange's clock as seen from ours: ``now()`` = our clock minus the observed offset.

    Each message gives ``received - exchange_ts`` = skew + network delay; the smallest over a
    recent window estimates skew + the fastest delay, so ``now()`` never runs ahead of the
    exchange. A host clock ahead of the exchange by minutes therefore neither closes a bar before
    its trades arrive nor stamps anything with its own time.
    """

    def __init__(self, window: int = 512) -> None:
        self._offsets: deque[timedelta] = deque(maxlen=window)

    def observe(self, exchange_ts: datetime, received: datetime) -> None:
        self._offsets.append(received - exchange_ts)

    @property
    def known(self) -> bool:
        """Whether any message has been seen (before that, the exchange's time is unknown)."""
        return bool(self._offsets)

    @property
    def offset(self) -> timedelta:
        return min(self._offsets) if self._offsets else timedelta(0)

    def now(self, local_now: datetime) -> datetime:
        return local_now - self.offset
