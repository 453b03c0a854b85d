"""Centralised-exchange data of every venue and asset: trades, candles and order books.

Everything derives from each venue's minute log-mid path (fair price + dispersion); between two
minute marks the mid moves linearly in log. Public trades hit the touch (mid ± half spread);
candles open and close on the mid, with Brownian-bridge wicks that also cover the trades; books
are laid out in whole ticks around the mid so that bids fall strictly below asks. A book at any
instant (the paper venues' fills) and the stored snapshots come from the same function.

A "pair" is one (venue, asset); each has its own random stream per day, and the arithmetic runs
on all pairs at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from marketsim.clock import MINUTES_PER_DAY, MINUTES_PER_YEAR, US_PER_MINUTE
from marketsim.keyed import generator, hash_words, name_key, stream_key
from marketsim.latent import LatentDay
from marketsim.spec import AssetSpec, SimSpec

TRADE_USD = 2_000.0  # median public trade
TRADE_LOG_SIGMA = 1.3
MINUTE_VOLUME_USD = 60_000.0  # median unseen volume per minute, per unit of venue depth
LEVEL_GROWTH = 0.35  # each level deeper holds 35% more on average
LEVEL_SPACING = 0.5  # distance between levels, in spreads
AMOUNT_DECIMALS = 8
MAX_TRADES_PER_MINUTE = 9_999  # trade ids keep four digits for the rank within a minute


def tick_exponent(asset: AssetSpec) -> int:
    """Prices are multiples of 10**-exponent: about seven significant digits at the starting price."""
    return 6 - math.floor(math.log10(asset.price))


def to_price(ticks: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Ticks to prices, ``scale`` = 10**exponent (broadcastable). Dividing by an exact power of ten
    gives the double nearest the decimal price; a tick of 1 or more multiplies by an exact integer."""
    scale = np.asarray(scale, dtype=float)
    if np.all(scale >= 1.0):
        return ticks / scale
    return np.where(
        scale >= 1.0, ticks / np.maximum(scale, 1.0), ticks * np.rint(1.0 / np.minimum(scale, 1.0))
    )


@dataclass(frozen=True)
class Pairs:
    """Per-pair parameters, pairs ordered venue-major: (v0, a0), (v0, a1), ..., (v1, a0), ..."""

    venue: np.ndarray
    asset: np.ndarray
    half_spread: np.ndarray  # log half spread
    scale: np.ndarray  # 10**tick exponent: prices * scale are whole ticks
    depth: np.ndarray
    spread: np.ndarray  # relative spread
    book_key: np.ndarray  # hash key of the pair's book-amount stream

    @staticmethod
    def of(spec: SimSpec) -> Pairs:
        venue = np.repeat(np.arange(len(spec.venues)), len(spec.assets))
        asset = np.tile(np.arange(len(spec.assets)), len(spec.venues))
        spread = np.array([spec.venues[v].spread_bps * 1e-4 for v in venue])
        return Pairs(
            venue=venue,
            asset=asset,
            half_spread=spread / 2,
            scale=10.0 ** np.array([tick_exponent(spec.assets[a]) for a in asset], dtype=float),
            depth=np.array([spec.venues[v].depth for v in venue]),
            spread=spread,
            book_key=np.array(
                [
                    stream_key(
                        spec.seed, "book", name_key(spec.venues[v].id), name_key(spec.assets[a].symbol)
                    )
                    for v, a in zip(venue, asset, strict=True)
                ],
                dtype=np.uint64,
            ),
        )

    def __len__(self) -> int:
        return len(self.venue)


@dataclass(frozen=True)
class CexDay:
    """One day of every pair: trades (concatenated, pair-major, time-ordered) and 1m candles."""

    trade_pair: np.ndarray
    trade_minute: np.ndarray  # minute of the day
    trade_rank: np.ndarray  # position within its minute (the trade id's last four digits)
    trade_micros: np.ndarray  # offset from the day's start
    trade_buy: np.ndarray
    trade_price: np.ndarray
    trade_amount: np.ndarray
    open: np.ndarray  # (pairs, 1440)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def cex_day(spec: SimSpec, pairs: Pairs, day: int, latent: LatentDay) -> CexDay:
    """Public trades and 1m candles of every pair on ``day``."""
    n_min, n_pairs = MINUTES_PER_DAY, len(pairs)
    draws: list[tuple[np.ndarray, ...]] = []
    for p in range(n_pairs):
        venue, asset = spec.venues[pairs.venue[p]], spec.assets[pairs.asset[p]]
        g = generator(spec.seed, "cex", name_key(venue.id), name_key(asset.symbol), day)
        # a Poisson process over the day: a Poisson count, then uniform times, in time order
        n = g.poisson(spec.trades_per_minute * n_min)
        when = np.sort(g.random(n) * n_min)
        minute = np.minimum(when.astype(np.int64), n_min - 1)
        draws.append((minute, when - minute, g.random(n), g.standard_normal(n), g.random((3, n_min))))
    minute = np.concatenate([d[0] for d in draws])  # minute of the day, per trade
    pair = np.repeat(np.arange(n_pairs), [len(d[0]) for d in draws])
    cell = pair * n_min + minute
    frac = np.concatenate([d[1] for d in draws])
    flat_counts = np.bincount(cell, minlength=n_pairs * n_min)
    if flat_counts.max(initial=0) > MAX_TRADES_PER_MINUTE:
        raise ValueError(f"more than {MAX_TRADES_PER_MINUTE} trades in a minute: lower trades_per_minute")
    buy = np.concatenate([d[2] for d in draws]) < 0.5
    z = np.concatenate([d[3] for d in draws])
    u_high, u_low, z_volume = (np.stack([d[4][k] for d in draws]) for k in range(3))

    log_mid = latent.log_mid[pairs.asset, pairs.venue]  # (pairs, 1441)
    sigma = latent.sigma[pairs.asset]  # (pairs, 1440)
    start, end = log_mid[:, :-1], log_mid[:, 1:]
    step = end - start
    scale = pairs.scale[:, None]
    start_price = np.array([spec.assets[a].price for a in pairs.asset])

    half = pairs.half_spread[pair]
    mid = start.ravel()[cell] + frac * step.ravel()[cell]
    trade_ticks = np.rint(np.exp(mid + np.where(buy, half, -half)) * scale[pair, 0])
    amount = np.maximum(
        np.round(TRADE_USD / start_price[pair] * np.exp(TRADE_LOG_SIGMA * z), AMOUNT_DECIMALS),
        10.0**-AMOUNT_DECIMALS,
    )
    first = np.zeros(n_pairs * n_min, dtype=np.int64)
    np.cumsum(flat_counts[:-1], out=first[1:])
    rank = np.arange(len(cell)) - first[cell]

    # candles: open/close on the mid; wicks reach the Brownian bridge's extremes and every trade
    var = sigma * sigma
    reach_high = 0.5 * (start + end + np.sqrt(step * step - 2.0 * var * np.log1p(-u_high)))
    reach_low = 0.5 * (start + end - np.sqrt(step * step - 2.0 * var * np.log1p(-u_low)))
    start_mid = np.exp(start)
    open_t = np.rint(start_mid * scale)
    close_t = np.rint(np.exp(end) * scale)
    high_t = np.maximum(np.ceil(np.exp(reach_high) * scale), np.maximum(open_t, close_t)).ravel()
    low_t = np.minimum(np.floor(np.exp(reach_low) * scale), np.minimum(open_t, close_t)).ravel()
    traded = np.flatnonzero(flat_counts)
    if len(cell):
        high_t[traded] = np.maximum(high_t[traded], np.maximum.reduceat(trade_ticks, first[traded]))
        low_t[traded] = np.minimum(low_t[traded], np.minimum.reduceat(trade_ticks, first[traded]))
    sigma_mean = np.array([spec.assets[a].vol for a in pairs.asset])[:, None] / math.sqrt(MINUTES_PER_YEAR)
    unseen = (
        MINUTE_VOLUME_USD * pairs.depth[:, None] / start_mid * (sigma / sigma_mean) * np.exp(0.5 * z_volume)
    )
    traded_volume = np.bincount(cell, weights=amount, minlength=n_pairs * n_min).reshape(n_pairs, n_min)
    # keep every trade inside its minute even where minute + frac rounds up to the next one
    micros = minute * US_PER_MINUTE + np.minimum(np.floor(frac * US_PER_MINUTE), US_PER_MINUTE - 1).astype(
        np.int64
    )
    return CexDay(
        trade_pair=pair,
        trade_minute=minute,
        trade_rank=rank,
        trade_micros=micros,
        trade_buy=buy,
        trade_price=to_price(trade_ticks, scale[pair, 0]),
        trade_amount=amount,
        open=to_price(open_t, scale),
        high=to_price(high_t.reshape(n_pairs, n_min), scale),
        low=to_price(low_t.reshape(n_pairs, n_min), scale),
        close=to_price(close_t, scale),
        volume=np.round(traded_volume + unseen, AMOUNT_DECIMALS),
    )


def aggregate(day: CexDay, minutes: int) -> tuple[np.ndarray, ...]:
    """(open, high, low, close, volume), each (pairs, bars), of ``minutes``-minute candles."""
    n_pairs = day.open.shape[0]
    shape = (n_pairs, -1, minutes)
    if minutes == 1:
        return day.open, day.high, day.low, day.close, day.volume
    return (
        day.open.reshape(shape)[:, :, 0],
        day.high.reshape(shape).max(axis=2),
        day.low.reshape(shape).min(axis=2),
        day.close.reshape(shape)[:, :, -1],
        np.round(day.volume.reshape(shape).sum(axis=2), AMOUNT_DECIMALS),
    )


def book_levels(
    pairs: Pairs, pair: np.ndarray, log_mid: np.ndarray, global_minute: np.ndarray, depth: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Books of ``pair[i]`` at mid ``exp(log_mid[i])``: (bid prices, bid amounts, ask prices, ask
    amounts), each (instants, depth). Level amounts are keyed by the minute, so a book is the same
    whenever it is asked for."""
    half = pairs.half_spread[pair]
    scale = pairs.scale[pair]
    mid = np.exp(log_mid)
    best_bid = np.floor(mid * np.exp(-half) * scale)
    best_ask = np.maximum(best_bid + 1, np.ceil(mid * np.exp(half) * scale))
    spacing = np.maximum(1.0, np.rint(mid * pairs.spread[pair] * LEVEL_SPACING * scale))
    level = np.arange(depth)
    bids = best_bid[:, None] - spacing[:, None] * level
    asks = best_ask[:, None] + spacing[:, None] * level
    counter = np.asarray(global_minute, dtype=np.int64)[:, None] * 512 + level
    bits = hash_words(pairs.book_key[pair][:, None], counter)  # one word: bid noise low, ask noise high
    bid_noise = (bits & np.uint64(0xFFFFFFFF)).astype(np.float64) * (0.6 / 2**32) + 0.7
    ask_noise = (bits >> np.uint64(32)).astype(np.float64) * (0.6 / 2**32) + 0.7
    base = (pairs.depth[pair] * 1e5 / mid)[:, None] * (1.0 + LEVEL_GROWTH * level)
    unit = 10.0**-AMOUNT_DECIMALS
    bid_amount = np.maximum(np.round(base * bid_noise, AMOUNT_DECIMALS), unit)
    ask_amount = np.maximum(np.round(base * ask_noise, AMOUNT_DECIMALS), unit)
    return to_price(bids, scale[:, None]), bid_amount, to_price(asks, scale[:, None]), ask_amount
