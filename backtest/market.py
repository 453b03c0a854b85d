"""What the backtest's venues see: the replayed books, trades, pool reserves and blocks.

Each step's rows are kept as numpy columns, plus the newest snapshot (book, reserves, block) of
every earlier step, so "the book at time t" is the newest snapshot at or before t, however far
back. Only quoted levels and traded prices come from here: the fill model never invents a price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kimera.config import TIMEFRAME_SECONDS
from live.events import Event, RawRows, Watermark

US = np.int64(1)  # times are epoch microseconds (int64) throughout


def _us(column: pa.ChunkedArray) -> np.ndarray:
    return column.to_numpy().astype("datetime64[us]").astype(np.int64)


def _text(column: pa.ChunkedArray) -> np.ndarray:
    """The strings as an object array, converted in Arrow's C++ (not one Python call per row)."""
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


@dataclass
class Book:
    ts: int
    bids: np.ndarray  # (n, 2) price, amount; best first
    asks: np.ndarray

    @property
    def mid(self) -> float:
        return float((self.bids[0, 0] + self.asks[0, 0]) / 2) if len(self.bids) and len(self.asks) else np.nan


class _Columns:
    """A table's rows as numpy columns; ``carry`` keeps the newest rows of each key."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.cols: dict[str, np.ndarray] = {n: np.empty(0) for n in names}

    def __len__(self) -> int:
        return len(self.cols["ts"])

    def replace(self, new: dict[str, np.ndarray], keep: np.ndarray | None) -> None:
        if keep is None or not keep.any():
            self.cols = new
        else:
            self.cols = {n: np.concatenate([self.cols[n][keep], new[n]]) for n in self.names}

    def newest_per(self, key: str) -> np.ndarray:
        """Mask of the rows at the newest time of each value of ``key``."""
        keep = np.zeros(len(self), dtype=bool)
        if not len(self):
            return keep
        ts, keys = self.cols["ts"], self.cols[key]
        for k in set(keys.tolist()):
            mine = keys == k
            keep |= mine & (ts == ts[mine].max())
        return keep


class Market:
    """The replayed market, step by step (``observe`` every event of the feed)."""

    def __init__(self) -> None:
        self.books = _Columns(("key", "ts", "side", "level", "price", "amount"))
        self.trades = _Columns(("key", "ts", "side", "price", "amount"))
        self.reserves = _Columns(("key", "ts", "block", "reserve0", "reserve1"))
        self.blocks = _Columns(("key", "ts", "block", "base_fee_gwei"))
        # candles (ts = open, end = close) are kept only for a run with candle venues (backtest.candle_fills)
        self.candles = _Columns(("key", "ts", "end", "open", "high", "low", "close", "volume"))
        self.keep_candles = False
        self.watermark: int | None = None
        self.events = 0
        self._fresh: set[str] = set()
        self._book_rows: dict[str, np.ndarray] | None = None  # venue|symbol -> row indices, per step

    def observe(self, event: Event) -> None:
        if isinstance(event, Watermark):
            self.watermark = int(np.datetime64(event.until, "us").astype(np.int64))
            self._fresh.clear()
            return
        if not isinstance(event, RawRows):
            return
        rows, table = event.rows, event.table
        self.events += rows.num_rows
        first = table not in self._fresh  # a table's first rows of this step replace the last step's
        self._fresh.add(table)
        if table == "order_book_snapshots":
            new = {
                "key": _text(pc.binary_join_element_wise(rows["venue"], rows["symbol"], "|")),
                "ts": _us(rows["ts"]),
                "side": _text(rows["side"]),
                "level": rows["level"].to_numpy(),
                "price": rows["price"].to_numpy(),
                "amount": rows["amount"].to_numpy(),
            }
            self._put(self.books, new, first, "key")
            self._book_rows = None
        elif table == "exchange_trades":
            new = {
                "key": _text(pc.binary_join_element_wise(rows["venue"], rows["symbol"], "|")),
                "ts": _us(rows["ts"]),
                "side": _text(rows["side"]),
                "price": rows["price"].to_numpy(),
                "amount": rows["amount"].to_numpy(),
            }
            self._put(self.trades, new, first, None)
        elif table == "dex_pool_reserves":
            new = {
                "key": _text(rows["pool"]),
                "ts": _us(rows["ts"]),
                "block": rows["block_number"].to_numpy(),
                "reserve0": rows["reserve0"].to_numpy(),
                "reserve1": rows["reserve1"].to_numpy(),
            }
            self._put(self.reserves, new, first, "key")
        elif table == "exchange_ohlcv" and self.keep_candles:
            opened = _us(rows["open_time"])
            lengths = {tf: TIMEFRAME_SECONDS[tf] * 1_000_000 for tf in set(rows["timeframe"].to_pylist())}
            span = np.array([lengths[tf] for tf in rows["timeframe"].to_pylist()], dtype=np.int64)
            new = {
                "key": _text(pc.binary_join_element_wise(rows["venue"], rows["symbol"], "|")),
                "ts": opened,
                "end": opened + span,
                **{n: rows[n].to_numpy() for n in ("open", "high", "low", "close", "volume")},
            }
            self._put(self.candles, new, first, "key")
        elif table == "chain_blocks":
            new = {
                "key": _text(rows["chain"]),
                "ts": _us(rows["ts"]),
                "block": rows["block_number"].to_numpy(),
                "base_fee_gwei": rows["base_fee_gwei"].to_numpy(),
            }
            self._put(self.blocks, new, first, "key")

    @staticmethod
    def _put(columns: _Columns, new: dict[str, np.ndarray], first: bool, carry_key: str | None) -> None:
        if not first:  # a table's rows of one step can come in several batches
            columns.replace(new, np.ones(len(columns), dtype=bool))
        elif carry_key is None:
            columns.replace(new, None)
        else:
            columns.replace(new, columns.newest_per(carry_key))

    # --- queries (times in epoch µs) ----------------------------------------------------------
    def book(self, venue: str, symbol: str, t: int) -> Book | None:
        """The newest snapshot of ``venue``/``symbol`` at or before ``t``."""
        c = self.books.cols
        if not len(self.books):
            return None
        if self._book_rows is None:  # one pass over the step's rows instead of one per query
            keys, inverse = np.unique(c["key"], return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
            self._book_rows = {k: order[bounds[i] : bounds[i + 1]] for i, k in enumerate(keys.tolist())}
        idx = self._book_rows.get(f"{venue}|{symbol}")
        if idx is None:
            return None
        idx = idx[c["ts"][idx] <= t]
        if not len(idx):
            return None
        at = c["ts"][idx].max()
        idx = idx[c["ts"][idx] == at]
        out = {}
        for side in ("bid", "ask"):
            pick = idx[c["side"][idx] == side]
            order = np.argsort(c["level"][pick], kind="stable")
            out[side] = np.column_stack([c["price"][pick][order], c["amount"][pick][order]])
        return Book(int(at), out["bid"], out["ask"])

    def trades_between(self, venue: str, symbol: str, after: int, until: int) -> tuple[np.ndarray, ...]:
        """(ts, taker side, price, amount) of the trades in ``(after, until]``, in time order."""
        c = self.trades.cols
        if not len(self.trades):
            return (np.empty(0, np.int64), np.empty(0, object), np.empty(0), np.empty(0))
        mask = (c["key"] == f"{venue}|{symbol}") & (c["ts"] > after) & (c["ts"] <= until)
        order = np.argsort(c["ts"][mask], kind="stable")
        return tuple(c[n][mask][order] for n in ("ts", "side", "price", "amount"))

    def reserves_at(self, pool: str, t: int) -> tuple[int, float, float] | None:
        """(block, reserve0, reserve1) of ``pool`` after the newest block at or before ``t``."""
        c = self.reserves.cols
        if not len(self.reserves):
            return None
        mask = (c["key"] == pool) & (c["ts"] <= t)
        if not mask.any():
            return None
        idx = np.flatnonzero(mask)
        last = idx[np.lexsort((c["block"][idx], c["ts"][idx]))[-1]]
        return int(c["block"][last]), float(c["reserve0"][last]), float(c["reserve1"][last])

    def base_fee_gwei(self, t: int) -> tuple[int, float] | None:
        """(block, base fee) of the newest block at or before ``t``."""
        c = self.blocks.cols
        if not len(self.blocks):
            return None
        mask = c["ts"] <= t
        if not mask.any():
            return None
        idx = np.flatnonzero(mask)
        last = idx[np.argmax(c["block"][idx])]
        return int(c["block"][last]), float(c["base_fee_gwei"][last])
