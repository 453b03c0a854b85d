"""Centralised-exchange data of one venue and asset: trades, candles and order books.

Everything derives from the venue's minute log-mid path (fair price + dispersion); between two
minute marks the mid moves linearly in log. Public trades hit the touch (mid ± half spread);
candles open and close on the mid, with Brownian-bridge wicks; books are laid out in whole ticks
around the mid so that bids fall strictly below asks. A book at any instant (the paper venues'
fills) and the stored snapshots come from the same function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from marketsim.clock import MINUTES_PER_DAY, MINUTES_PER_YEAR, US_PER_MINUTE
from marketsim.keyed import generator, hash_uniform, name_key, stream_key
from marketsim.spec import AssetSpec, SimSpec, VenueSpec

TRADE_USD = 2_000.0  # median public trade
TRADE_LOG_SIGMA = 1.3
MINUTE_VOLUME_USD = 60_000.0  # median unseen volume per minute, per unit of venue depth
LEVEL_GROWTH = 0.35  # each level deeper holds 35% more on average
LEVEL_SPACING = 0.5  # distance between levels, in spreads
AMOUNT_DECIMALS = 8
TRADE_ID_BASE = 10**15  # trade ids are 16-digit numbers increasing with time


@dataclass(frozen=True)
class Ticks:
    """A price grid of 10**-exponent, about six significant digits at the asset's starting price."""

    exponent: int

    @staticmethod
    def of(asset: AssetSpec) -> Ticks:
        return Ticks(6 - math.floor(math.log10(asset.price)))

    @property
    def size(self) -> float:
        return 10.0**-self.exponent

    def to_price(self, ticks: np.ndarray) -> np.ndarray:
        # dividing by an exact power of ten gives the nearest double to the decimal price
        if self.exponent >= 0:
            return ticks / float(10**self.exponent)
        return ticks * float(10 ** (-self.exponent))

    def scale(self, price: np.ndarray) -> np.ndarray:
        return price * 10.0**self.exponent


@dataclass(frozen=True)
class Trades:
    minute: np.ndarray  # minute of the day
    micros: np.ndarray  # offset from the day's start
    buy: np.ndarray  # taker side
    price: np.ndarray
    amount: np.ndarray
    trade_id: np.ndarray


@dataclass(frozen=True)
class Candles:
    """One-minute candles of a day."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def _half_spread(venue: VenueSpec) -> float:
    return venue.spread_bps * 0.5e-4


def trades_and_candles(
    spec: SimSpec, vi: int, ai: int, day: int, log_mid: np.ndarray, sigma: np.ndarray
) -> tuple[Trades, Candles]:
    """One day of public trades and 1m candles of venue ``vi`` / asset ``ai``.

    ``log_mid`` holds the venue's 1441 minute-boundary log mids, ``sigma`` the 1440 minute stds.
    """
    venue, asset = spec.venues[vi], spec.assets[ai]
    ticks = Ticks.of(asset)
    g = generator(spec.seed, "cex", name_key(venue.id), name_key(asset.symbol), day)
    n_min = MINUTES_PER_DAY
    counts = g.poisson(spec.trades_per_minute, n_min)
    n = int(counts.sum())
    minute = np.repeat(np.arange(n_min), counts)
    when = np.sort(minute + g.random(n))  # sorted: trades are in time order within each minute
    frac = when - minute
    buy = g.random(n) < 0.5
    amount = np.maximum(
        np.round(TRADE_USD / asset.price * np.exp(TRADE_LOG_SIGMA * g.standard_normal(n)), AMOUNT_DECIMALS),
        10.0**-AMOUNT_DECIMALS,
    )
    start = log_mid[:-1]
    step = np.diff(log_mid)
    half = _half_spread(venue)
    mid = start[minute] + frac * step[minute]
    trade_ticks = np.rint(ticks.scale(np.exp(mid + np.where(buy, half, -half))))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    trade_id = TRADE_ID_BASE + (day * n_min + minute) * 10_000 + (np.arange(n) - first[minute])

    # candles: open/close on the mid; wicks from the Brownian bridge's extremes and the trades
    u_high, u_low = g.random(n_min), g.random(n_min)
    end = log_mid[1:]
    var = sigma * sigma
    reach_high = 0.5 * (start + end + np.sqrt(step * step - 2.0 * var * np.log1p(-u_high)))
    reach_low = 0.5 * (start + end - np.sqrt(step * step - 2.0 * var * np.log1p(-u_low)))
    open_t = np.rint(ticks.scale(np.exp(start)))
    close_t = np.rint(ticks.scale(np.exp(end)))
    high_t = np.maximum(np.ceil(ticks.scale(np.exp(reach_high))), np.maximum(open_t, close_t))
    low_t = np.minimum(np.floor(ticks.scale(np.exp(reach_low))), np.minimum(open_t, close_t))
    traded = np.flatnonzero(counts)
    if n:
        high_t[traded] = np.maximum(high_t[traded], np.maximum.reduceat(trade_ticks, first[traded]))
        low_t[traded] = np.minimum(low_t[traded], np.minimum.reduceat(trade_ticks, first[traded]))
    sigma_mean = asset.vol / math.sqrt(MINUTES_PER_YEAR)
    unseen = (
        MINUTE_VOLUME_USD
        * venue.depth
        / np.exp(start)
        * (sigma / sigma_mean)
        * np.exp(0.5 * g.standard_normal(n_min))
    )
    volume = np.round(np.bincount(minute, weights=amount, minlength=n_min) + unseen, AMOUNT_DECIMALS)
    # keep every trade inside its minute even where minute + frac rounds up to the next one
    micros = minute * US_PER_MINUTE + np.minimum(np.floor(frac * US_PER_MINUTE), US_PER_MINUTE - 1).astype(
        np.int64
    )
    trades = Trades(minute, micros, buy, ticks.to_price(trade_ticks), amount, trade_id)
    candles = Candles(
        ticks.to_price(open_t), ticks.to_price(high_t), ticks.to_price(low_t), ticks.to_price(close_t), volume
    )
    return trades, candles


def aggregate(candles: Candles, minutes: int) -> Candles:
    """Candles of ``minutes`` minutes (dividing a day) from a day of 1m candles."""
    if minutes == 1:
        return candles
    shape = (-1, minutes)
    return Candles(
        candles.open.reshape(shape)[:, 0],
        candles.high.reshape(shape).max(axis=1),
        candles.low.reshape(shape).min(axis=1),
        candles.close.reshape(shape)[:, -1],
        np.round(candles.volume.reshape(shape).sum(axis=1), AMOUNT_DECIMALS),
    )


def book_levels(
    spec: SimSpec, vi: int, ai: int, log_mid: np.ndarray, global_minute: np.ndarray, depth: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Books at ``len(log_mid)`` instants: (bid prices, bid amounts, ask prices, ask amounts), each
    (instants, depth). Level amounts are keyed by the minute, so a book is the same whenever asked."""
    venue, asset = spec.venues[vi], spec.assets[ai]
    ticks = Ticks.of(asset)
    half = _half_spread(venue)
    mid = np.exp(log_mid)
    best_bid = np.floor(ticks.scale(mid * math.exp(-half)))
    best_ask = np.maximum(best_bid + 1, np.ceil(ticks.scale(mid * math.exp(half))))
    spacing = np.maximum(1.0, np.rint(ticks.scale(mid * venue.spread_bps * 1e-4 * LEVEL_SPACING)))
    level = np.arange(depth)
    bids = best_bid[:, None] - spacing[:, None] * level
    asks = best_ask[:, None] + spacing[:, None] * level
    key = stream_key(spec.seed, "book", name_key(venue.id), name_key(asset.symbol))
    counter = (
        np.asarray(global_minute, dtype=np.int64)[:, None, None] * 2 + np.arange(2)[None, :, None]
    ) * 512 + level
    noise = 0.7 + 0.6 * hash_uniform(key, counter)  # (instants, side, depth)
    base = (venue.depth * 1e5 / mid)[:, None] * (1.0 + LEVEL_GROWTH * level)
    unit = 10.0**-AMOUNT_DECIMALS
    bid_amount = np.maximum(np.round(base * noise[:, 0], AMOUNT_DECIMALS), unit)
    ask_amount = np.maximum(np.round(base * noise[:, 1], AMOUNT_DECIMALS), unit)
    return ticks.to_price(bids), bid_amount, ticks.to_price(asks), ask_amount
