"""Where paper venues get their market: a :class:`BookSource` of deterministic point queries.

The simulator (``marketsim``) is the real source; :class:`SyntheticMarket` is a small seeded
stand-in with the same interface, used when the simulator cannot answer (and by fast unit tests).
Times are epoch seconds (UTC). Every answer is a pure function of (seed, arguments).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class BookSource(Protocol):
    def order_book(self, venue: str, symbol: str, t: float, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """(bids, asks), each an (n, 2) float array of [price, amount]; bids descending, asks ascending."""
        ...

    def fair_price(self, asset: str, t: float) -> float: ...

    def pool_state(self, pool: str, t: float) -> tuple[float, float]:
        """(base reserve, quote reserve) of a constant-product pool at t."""
        ...


def _seed(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass(frozen=True)
class VenueShape:
    spread_bps: float = 2.0
    depth_notional: float = 100_000.0  # top-of-book notional per level, in quote
    dispersion_bps: float = 1.0
    tick_bps: float = 0.5  # distance between levels


@dataclass
class SyntheticMarket:
    """Seeded stand-in for the simulator: a smooth random fair price per asset, books and pools around it.

    The fair price is a sum of random sinusoids (a Brownian-like spectrum) so it is a pure function
    of time; books are redrawn every ``book_interval_s`` around it with per-venue dispersion.
    """

    seed: int = 7
    base_prices: dict[str, float] = field(default_factory=lambda: {"BTC": 60_000.0, "ETH": 3_000.0})
    venues: dict[str, VenueShape] = field(default_factory=dict)
    pools: dict[str, tuple[str, float]] = field(default_factory=dict)  # pool -> (asset, liquidity in quote)
    vol_per_sqrt_day: float = 0.03
    book_interval_s: float = 1.0

    def _components(self, asset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(_seed(self.seed, "fair", asset))
        periods = np.geomspace(60.0, 30 * 86400.0, 24)
        omega = 2 * np.pi / periods
        # amplitude ~ sqrt(period) gives a random-walk-like spread over each horizon
        amp = self.vol_per_sqrt_day * np.sqrt(periods / 86400.0) * rng.normal(0, 0.35, len(periods))
        return omega, amp, rng.uniform(0, 2 * np.pi, len(periods))

    def fair_price(self, asset: str, t: float) -> float:
        omega, amp, phase = self._components(asset)
        base = self.base_prices.get(asset)
        if base is None:
            raise KeyError(f"unknown asset {asset!r}; known: {sorted(self.base_prices)}")
        return float(base * math.exp(float(np.sum(amp * np.sin(omega * t + phase)))))

    def order_book(self, venue: str, symbol: str, t: float, depth: int) -> tuple[np.ndarray, np.ndarray]:
        asset = symbol.split("/")[0]
        shape = self.venues.get(venue, VenueShape())
        bucket = math.floor(t / self.book_interval_s)
        rng = np.random.default_rng(_seed(self.seed, "book", venue, symbol, bucket))
        fair = self.fair_price(asset, bucket * self.book_interval_s)
        mid = fair * (1 + shape.dispersion_bps * 1e-4 * rng.normal())
        steps = np.arange(depth)
        half = shape.spread_bps * 0.5e-4
        ask_px = mid * (1 + half + steps * shape.tick_bps * 1e-4)
        bid_px = mid * (1 - half - steps * shape.tick_bps * 1e-4)
        base_amt = shape.depth_notional / mid
        ask_amt = base_amt * (1 + 0.15 * steps) * rng.uniform(0.5, 1.5, depth)
        bid_amt = base_amt * (1 + 0.15 * steps) * rng.uniform(0.5, 1.5, depth)
        return np.column_stack([bid_px, bid_amt]), np.column_stack([ask_px, ask_amt])

    def pool_state(self, pool: str, t: float) -> tuple[float, float]:
        asset, liquidity = self.pools[pool]
        bucket = math.floor(t / 12.0)  # one block
        rng = np.random.default_rng(_seed(self.seed, "pool", pool, bucket))
        # arbitrageurs keep the pool near the fair price, with a lag of a few blocks
        price = self.fair_price(asset, (bucket - 3) * 12.0) * (1 + 5e-4 * rng.normal())
        quote = liquidity / 2
        return quote / price, quote


class SimulatorMarket:
    """The simulator (``marketsim``) as a :class:`BookSource`: epoch seconds in, its point queries out.

    ``base_tokens`` maps a pool address to the token that is the traded asset (WETH for ETH), so
    reserves come back as (base, quote). ``pool_sims`` maps a pool address to the simulator of its
    chain where that is not ``simulator`` (a pool on another chain of ``chains:``).
    """

    def __init__(self, simulator, base_tokens: dict[str, str], pool_sims: dict | None = None):
        self.sim = simulator
        self.base_tokens = {k.lower(): v for k, v in base_tokens.items()}
        self.pool_sims = {k.lower(): v for k, v in (pool_sims or {}).items()}

    @staticmethod
    def _time(t: float):
        from datetime import UTC, datetime

        return datetime.fromtimestamp(t, UTC).replace(tzinfo=None)

    def order_book(self, venue: str, symbol: str, t: float, depth: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sim.order_book(venue, symbol, self._time(t), depth)

    def fair_price(self, asset: str, t: float) -> float:
        return self.sim.fair_price(asset, self._time(t))

    def pool_state(self, pool: str, t: float) -> tuple[float, float]:
        r = self.pool_sims.get(pool.lower(), self.sim).pool_state(pool, self._time(t))
        if r.token0 == self.base_tokens[pool.lower()]:
            return r.reserve0, r.reserve1
        return r.reserve1, r.reserve0
