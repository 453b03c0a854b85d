"""Arrow tables of one day of the venues: candles, public trades and order-book snapshots."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from marketsim import encode
from marketsim.cex import CexDay, Pairs, aggregate, book_levels
from marketsim.clock import MINUTES_PER_DAY, US_PER_MINUTE
from marketsim.latent import LatentDay
from marketsim.schemas import EXCHANGE_OHLCV, EXCHANGE_TRADES, ORDER_BOOK_SNAPSHOTS
from marketsim.spec import SimSpec


def timeframe_label(seconds: int) -> str:
    """ccxt's name of a candle length: 60 -> 1m, 3600 -> 1h, 86400 -> 1d."""
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


def _names(spec: SimSpec, pairs: Pairs, column: str, per_pair: list[int] | np.ndarray) -> pa.StringArray:
    if column == "venue":
        return encode.runs([spec.venues[i].id for i in pairs.venue], per_pair)
    return encode.runs([spec.assets[i].pair for i in pairs.asset], per_pair)


def ohlcv_table(spec: SimSpec, pairs: Pairs, cex: CexDay, day_us: int) -> pa.Table:
    minutes = spec.timeframe_seconds // 60
    candles = aggregate(cex, minutes)
    n_pairs, per = candles[0].shape
    open_time = day_us + np.tile(np.arange(per, dtype=np.int64) * minutes * US_PER_MINUTE, n_pairs)
    columns = [
        _names(spec, pairs, "venue", [per] * n_pairs),
        _names(spec, pairs, "symbol", [per] * n_pairs),
        encode.repeat(timeframe_label(spec.timeframe_seconds), n_pairs * per),
        encode.timestamps(open_time),
        *(pa.array(c.ravel()) for c in candles),
    ]
    return pa.Table.from_arrays(columns, schema=EXCHANGE_OHLCV)


def trades_table(spec: SimSpec, pairs: Pairs, cex: CexDay, day: int, day_us: int) -> pa.Table:
    counts = np.bincount(cex.trade_pair, minlength=len(pairs))
    columns = [
        _names(spec, pairs, "venue", counts),
        _names(spec, pairs, "symbol", counts),
        encode.minute_ids(day * MINUTES_PER_DAY, cex.trade_minute, cex.trade_rank),
        encode.timestamps(day_us + cex.trade_micros),
        encode.choose(["sell", "buy"], cex.trade_buy.astype(np.int64)),
        pa.array(cex.trade_price),
        pa.array(cex.trade_amount),
    ]
    return pa.Table.from_arrays(columns, schema=EXCHANGE_TRADES)


def books_table(spec: SimSpec, pairs: Pairs, latent: LatentDay, day: int, day_us: int) -> pa.Table:
    minutes = np.arange(0, MINUTES_PER_DAY, spec.book_interval_seconds // 60)
    depth, n_pairs, n_snap = spec.book_depth, len(pairs), len(minutes)
    pair = np.repeat(np.arange(n_pairs), n_snap)
    log_mid = latent.log_mid[pairs.asset, pairs.venue][:, minutes].ravel()
    global_minute = np.tile(day * MINUTES_PER_DAY + minutes, n_pairs)
    bid_p, bid_a, ask_p, ask_a = book_levels(pairs, pair, log_mid, global_minute, depth)
    per = n_snap * 2 * depth
    ts = day_us + minutes.astype(np.int64) * US_PER_MINUTE
    columns = [
        _names(spec, pairs, "venue", [per] * n_pairs),
        _names(spec, pairs, "symbol", [per] * n_pairs),
        encode.timestamps(np.tile(np.repeat(ts, 2 * depth), n_pairs)),
        encode.runs(["bid", "ask"] * (n_snap * n_pairs), [depth] * (2 * n_snap * n_pairs)),
        pa.array(np.tile(np.arange(depth, dtype=np.int32), 2 * n_snap * n_pairs)),
        pa.array(np.stack([bid_p, ask_p], axis=1).ravel()),  # rows ordered (instant, side, level)
        pa.array(np.stack([bid_a, ask_a], axis=1).ravel()),
    ]
    return pa.Table.from_arrays(columns, schema=ORDER_BOOK_SNAPSHOTS)
