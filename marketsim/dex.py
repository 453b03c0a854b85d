"""Constant-product pools: noise swaps, and arbitrageurs who pull the price to the fee band.

A pool's state is its log price ``q`` (token1 per token0, decimal-adjusted) and log liquidity
``log L`` (``L^2 = reserve0 * reserve1``). A swap of relative size ``t`` (input / input reserve)
with fee ``f`` (``g = 1 - f``) multiplies the price by ``((1 + g t)(1 + t))^(+-1)`` and ``L^2`` by
``(1 + t) / (1 + g t)`` -- both depend on ``t`` alone, so a day of swaps is a few vector ops
plus one short loop over the arbitrageurs' looks (whether they trade depends on where the noise
left the price).

Arbitrage: at each look (a block, with probability ``block_seconds / dex_arb_lag_seconds``) the
arbitrageur compares the pool with the fair price ``F``; the no-arbitrage band of a constant-
product pool is ``g F <= p <= F / g``. Beyond it (by more than ``ARB_MIN_EDGE``, the gas cost)
they swap the pool back exactly to the band's edge. The pool therefore tracks the fair price with
the lag of the looks, and never closer than the fee allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from marketsim.clock import Blocks
from marketsim.flows import units_exponent
from marketsim.keyed import generator, name_key
from marketsim.latent import LatentDay, interpolate
from marketsim.spec import USD_PEGGED, PoolSpec, SimSpec, TokenSpec
from marketsim.wallets import ARBITRAGE_BOTS, AddressBook

ARB_MIN_EDGE = 1e-4  # log distance beyond the band before an arbitrage pays its gas
NOISE_SWAP_USD = 3_000.0  # median noise swap
NOISE_LOG_SIGMA = 1.2
MAX_NOISE_FRACTION = 0.02  # no single noise swap above 2% of the input reserve


@dataclass(frozen=True)
class PoolState:
    """A pool after its last swap: log price, log liquidity, reserves in 10**-p units."""

    q: float
    log_liquidity: float
    units0: int
    units1: int


@dataclass(frozen=True)
class PoolDay:
    """The executed swaps of one pool on one day, in order."""

    pool: int  # index into spec.pools
    block: np.ndarray  # block offset within the day
    seq: np.ndarray  # order within the day
    arbitrage: np.ndarray  # bool
    units0: np.ndarray  # reserve0 after the swap, 10**-p0 units
    units1: np.ndarray
    amount0: np.ndarray  # signed, pool's view, 10**-p0 units
    amount1: np.ndarray
    trader: np.ndarray  # address index paying in / receiving out
    sender: np.ndarray  # address index of the Swap event's sender (router or bot)
    fair_q: np.ndarray  # fair log price at the swap (for evaluation and tests)
    start: PoolState
    end: PoolState

    def __len__(self) -> int:
        return len(self.block)


def _log_usd(spec: SimSpec, token: TokenSpec, latent: LatentDay, minutes: np.ndarray) -> np.ndarray:
    if token.asset is None or token.asset.upper() in USD_PEGGED:
        return np.zeros_like(minutes)
    index = [a.symbol for a in spec.assets].index(token.asset)
    return interpolate(latent.log_fair[index], minutes)


def fair_log_price(spec: SimSpec, pool: PoolSpec, latent: LatentDay, minutes: np.ndarray) -> np.ndarray:
    """Fair log price of ``pool`` (token1 per token0) at fractional ``minutes`` of the latent day."""
    t0, t1 = spec.token(pool.token0), spec.token(pool.token1)
    return _log_usd(spec, t0, latent, minutes) - _log_usd(spec, t1, latent, minutes)


def _units(
    log_liquidity: np.ndarray, q: np.ndarray, token0: TokenSpec, token1: TokenSpec
) -> tuple[np.ndarray, np.ndarray]:
    x = np.exp(log_liquidity - 0.5 * q) * 10.0 ** units_exponent(token0)
    y = np.exp(log_liquidity + 0.5 * q) * 10.0 ** units_exponent(token1)
    return np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)


def initial_pool_state(spec: SimSpec, pool: PoolSpec) -> PoolState:
    """The pool at the epoch: at the fair price, holding ``pool_tvl_usd`` split evenly."""
    t0, t1 = spec.token(pool.token0), spec.token(pool.token1)
    x = spec.pool_tvl_usd / 2 / spec.token_usd_price_at_epoch(t0)
    y = spec.pool_tvl_usd / 2 / spec.token_usd_price_at_epoch(t1)
    q, log_l = math.log(y / x), 0.5 * math.log(x * y)
    u0, u1 = _units(np.array([log_l]), np.array([q]), t0, t1)
    return PoolState(q, log_l, int(u0[0]), int(u1[0]))


def _relative_size(move: np.ndarray, gamma: float) -> np.ndarray:
    """Input / input reserve of the swap that moves the log price by |move|: (1+g t)(1+t) = e^|move|."""
    m = np.expm1(np.abs(move))  # e^|move| - 1, accurate for small moves
    b = 1.0 + gamma
    return 2.0 * m / (b + np.sqrt(b * b + 4.0 * gamma * m))  # stable root of g t^2 + b t - m = 0


def pool_day(
    spec: SimSpec, book: AddressBook, index: int, blocks: Blocks, latent: LatentDay, state: PoolState
) -> PoolDay:
    """Every swap of pool ``index`` during ``blocks``' day, starting from ``state``."""
    pool = spec.pools[index]
    t0, t1 = spec.token(pool.token0), spec.token(pool.token1)
    gamma = 1.0 - pool.fee_bps * 1e-4
    band = -math.log(gamma)
    g = generator(spec.seed, "dex", name_key(pool.address.lower()), blocks.day)

    n_noise = g.poisson(spec.dex_swaps_per_hour * 24)
    noise_block = np.sort(g.integers(0, blocks.count, n_noise))
    token0_in = g.random(n_noise) < 0.5
    median = NOISE_SWAP_USD / (spec.pool_tvl_usd / 2)
    t = np.minimum(median * np.exp(NOISE_LOG_SIGMA * g.standard_normal(n_noise)), MAX_NOISE_FRACTION)
    noise_move = np.log1p(gamma * t) + np.log1p(t)
    noise_move = np.where(token0_in, -noise_move, noise_move)
    noise_trader = book.pick_users(g, n_noise)
    looks = np.flatnonzero(g.random(blocks.count) < min(1.0, spec.block_seconds / spec.dex_arb_lag_seconds))
    bots = book.bots[g.integers(0, ARBITRAGE_BOTS, len(looks))]

    # events in block order; within a block noise swaps come first and arbitrageurs back-run them
    block = np.concatenate([noise_block, looks])
    is_look = np.concatenate([np.zeros(n_noise, bool), np.ones(len(looks), bool)])
    order = np.lexsort((is_look, block))
    block, is_look = block[order], is_look[order]
    minutes = blocks.seconds_in_day[block] / 60.0
    fair = fair_log_price(spec, pool, latent, minutes)
    value = np.concatenate([noise_move, np.zeros(len(looks))])[order]

    executed, q_after = _run(state.q, is_look.tolist(), value.tolist(), fair.tolist(), band)
    executed = np.asarray(executed, dtype=np.int64)
    q = np.asarray(q_after, dtype=np.float64)
    move = np.diff(q, prepend=state.q)
    rel = _relative_size(move, gamma)
    log_l = state.log_liquidity + np.cumsum(0.5 * (np.log1p(rel) - np.log1p(gamma * rel)))
    units0, units1 = _units(log_l, q, t0, t1)
    amount0 = np.diff(units0, prepend=state.units0)
    amount1 = np.diff(units1, prepend=state.units1)

    who = np.concatenate([noise_trader, bots])[order][executed]
    arbitrage = is_look[executed]
    sender = np.where(arbitrage, who, book.router)
    end = (
        state
        if len(executed) == 0
        else PoolState(float(q[-1]), float(log_l[-1]), int(units0[-1]), int(units1[-1]))
    )
    return PoolDay(
        pool=index,
        block=block[executed],
        seq=np.arange(len(executed)),
        arbitrage=arbitrage,
        units0=units0,
        units1=units1,
        amount0=amount0,
        amount1=amount1,
        trader=who,
        sender=sender,
        fair_q=fair[executed],
        start=state,
        end=end,
    )


def _run(
    q: float, is_look: list[bool], value: list[float], fair: list[float], band: float
) -> tuple[list[int], list[float]]:
    """The sequential part: noise moves the price; a look trades back to the band edge if beyond it."""
    executed: list[int] = []
    q_after: list[float] = []
    high = [f + band for f in fair]
    low = [f - band for f in fair]
    for i, look, move, hi, lo in zip(range(len(is_look)), is_look, value, high, low, strict=True):
        if not look:
            q += move
        elif q > hi + ARB_MIN_EDGE:
            q = hi
        elif q < lo - ARB_MIN_EDGE:
            q = lo
        else:
            continue
        executed.append(i)
        q_after.append(q)
    return executed, q_after
