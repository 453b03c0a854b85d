"""A Uniswap V3 pool as the router sees it: a chain of constant-product segments, one per tick range.

Between two initialised ticks a V3 pool *is* a constant-product pool on virtual reserves
(``L / sqrtP`` of token0, ``L * sqrtP`` of token1) that runs out at the next tick; at a tick the
price is continuous and only ``L`` changes. So for each side of the book the pool is a list of
segments in price order, each with its virtual reserves at its start and the amount it can give
before its end. The router's marginal-cost machinery then works unchanged: a pool's amount at a
marginal cost is the segments below it in full plus one segment's constant-product amount, and
with every pool inside one segment the equal-marginal-cost split has the constant-product closed
form, shifted by what the earlier segments gave.

Floats, like the rest of the router; the exact integer quote (:mod:`execution.amm.v3`) is what a
venue checks before it signs. Units are the tokens' (decimal-adjusted), base and quote as traded.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from execution.amm.v3 import V3Pool, sqrt_ratio_at_tick
from execution.venues.base import Side

Q96 = float(2**96)


@dataclass(frozen=True, slots=True)
class Segments:
    """One side of a V3 pool: per segment its virtual (base, quote) reserves at its start, the order
    amount it can take, and cumulative amount/cost before it; marginal costs at each end."""

    base: tuple[float, ...]
    quote: tuple[float, ...]
    cap: tuple[float, ...]
    before: tuple[float, ...]  # order amount of the segments before this one
    cost_before: tuple[float, ...]  # their cost (negative when selling)
    start: tuple[float, ...]  # marginal cost at each segment's start
    end: tuple[float, ...]  # ... and at its end

    @property
    def total(self) -> float:
        return self.before[-1] + self.cap[-1] if self.cap else 0.0


def _cp_cost(side: Side, x: float, y: float, f: float, q: float) -> float:
    if side is Side.BUY:
        return x * q / ((y - q) * (1 - f))
    return -x * (1 - f) * q / (y + (1 - f) * q)


def _cp_marginal(side: Side, x: float, y: float, f: float, q: float) -> float:
    if side is Side.BUY:
        return x * y / ((1 - f) * (y - q) ** 2)
    return -x * y * (1 - f) / (y + (1 - f) * q) ** 2


def _cp_amount(side: Side, x: float, y: float, f: float, lam: float) -> float:
    if side is Side.BUY:
        return y - math.sqrt(x * y / ((1 - f) * lam))
    return (math.sqrt(x * y * (1 - f) / -lam) - y) / (1 - f)


@dataclass(frozen=True, slots=True)
class ConcentratedPoolInput:
    """A V3 pool for :func:`execution.router.route`: both sides' segments, fee and gas (quote)."""

    venue: str
    fee: float
    gas_quote: float
    buy: Segments
    sell: Segments

    def side(self, side: Side) -> Segments:
        return self.buy if side is Side.BUY else self.sell

    def start(self, side: Side) -> float:
        s = self.side(side)
        return s.start[0] if s.cap else math.inf

    def bounds(self, side: Side) -> tuple[float, float]:
        s = self.side(side)
        return (s.start[0], s.end[-1]) if s.cap else (math.inf, math.inf)

    def cap(self, side: Side) -> float:
        return self.side(side).total

    def amount(self, side: Side, lam: float) -> float:
        """Order amount at marginal cost ``lam``: every segment below it, and part of the one it is in."""
        s = self.side(side)
        k = bisect_right(s.end, lam)
        if k >= len(s.cap):
            return s.total
        if lam <= s.start[k]:
            return s.before[k]
        return s.before[k] + min(_cp_amount(side, s.quote[k], s.base[k], self.fee, lam), s.cap[k])

    def cost(self, side: Side, q: float) -> float:
        """Quote paid for ``q`` (buy), minus the quote received (sell); inf beyond what the ticks read hold."""
        if q <= 0:
            return 0.0
        s = self.side(side)
        if q > s.total + 1e-9:
            return math.inf
        k = max(0, bisect_left(s.before, q) - 1)
        return s.cost_before[k] + _cp_cost(
            side, s.quote[k], s.base[k], self.fee, min(q - s.before[k], s.cap[k])
        )

    def state(self, side: Side, lam: float) -> tuple[int, float]:
        """At marginal cost ``lam``: (segment whose curve holds it, 0) or (-1, the amount, fixed there)."""
        s = self.side(side)
        k = bisect_right(s.end, lam)
        if k >= len(s.cap):
            return -1, s.total
        if lam <= s.start[k]:
            return -1, s.before[k]
        return k, 0.0

    def curve(self, side: Side, k: int) -> tuple[float, float, float]:
        """(quote, base, amount before) of segment ``k``: for the router's closed form."""
        s = self.side(side)
        return s.quote[k], s.base[k], s.before[k]


def _segments(pool: V3Pool, side: Side, base_is_token0: bool, d0: int, d1: int) -> Segments:
    """Walk the initialised ticks from the price in the direction ``side`` moves it."""
    f = pool.fee / 1_000_000
    up = (side is Side.BUY) == base_is_token0  # buying token0 (or selling token1) raises token1/token0
    ticks = sorted(pool.ticks)
    if up:
        nxt = [t for t in ticks if t > pool.tick and t <= pool.known[1]]
    else:
        nxt = [t for t in reversed(ticks) if t <= pool.tick and t >= pool.known[0]]
    liquidity, sa = pool.liquidity, pool.sqrt_price_x96 / Q96
    base, quote, cap, before, cost_before, start, end = [], [], [], [], [], [], []
    taken = spent = 0.0
    for t in nxt:
        sb = sqrt_ratio_at_tick(t) / Q96
        if liquidity > 0 and sb != sa:
            x0, x1 = liquidity / sa / 10**d0, liquidity * sa / 10**d1  # virtual reserves at the start
            moved0 = abs(liquidity * (1 / sa - 1 / sb)) / 10**d0
            moved1 = abs(liquidity * (sb - sa)) / 10**d1
            y, x, q_cap = (x0, x1, moved0) if base_is_token0 else (x1, x0, moved1)
            if side is Side.SELL:
                q_cap /= 1 - f  # the order amount whose after-fee part moves the price to the tick
            base.append(y)
            quote.append(x)
            cap.append(q_cap)
            before.append(taken)
            cost_before.append(spent)
            start.append(_cp_marginal(side, x, y, f, 0.0))
            end.append(_cp_marginal(side, x, y, f, q_cap))
            taken += q_cap
            spent += _cp_cost(side, x, y, f, q_cap)
        liquidity += pool.ticks[t] if up else -pool.ticks[t]
        sa = sb
    return Segments(*(tuple(v) for v in (base, quote, cap, before, cost_before, start, end)))


def concentrated_input(
    venue: str, pool: V3Pool, base_is_token0: bool, decimals0: int, decimals1: int, gas_quote: float
) -> ConcentratedPoolInput:
    """The router's view of ``pool`` for trading its base token (token0 or token1) against the other."""
    return ConcentratedPoolInput(
        venue,
        pool.fee / 1_000_000,
        gas_quote,
        _segments(pool, Side.BUY, base_is_token0, decimals0, decimals1),
        _segments(pool, Side.SELL, base_is_token0, decimals0, decimals1),
    )
