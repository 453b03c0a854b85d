"""The planted signal and the Bayes-optimal directional accuracy it allows.

Observable: ``s_h = net_inflow_h / scale`` -- the net exchange inflow of the asset's token during
bar h (token units), divided by a fixed scale, the standard deviation that the flow parameters
imply for one bar (closed form below, so ``s`` has unit variance by construction).

Planted relation (inflow is bearish): the fair log return of the next bar is

    r_{h+1} = -beta * s_h * sigma_{h+1} + sigma_{h+1} * eps + J_{h+1}

with ``sigma_{h+1}`` the bar's diffusive std (stochastic volatility), ``eps ~ N(0, 1)``, and
``J`` the sum of ``N ~ Poisson(jumps_per_day * bar_days)`` jumps, each ``N(0, jump_size^2)``. So

    P(r_{h+1} > 0 | s_h, sigma_{h+1}) = sum_n Poisson(n) * Phi(-beta s_h sigma / sqrt(sigma^2 + n jump_size^2))

and the best directional forecast is "down" when ``beta * s_h > 0``, right with probability
``max(p_up, 1 - p_up)``. Its mean over the bars is the Bayes-optimal accuracy A*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr
from scipy.stats import poisson

from marketsim.flows import FLOW_LOG_SIGMA, WHALE_DIRECTIONS, WHALE_LOG_SIGMA
from marketsim.spec import AssetSpec, SimSpec, TokenSpec


def signal_scale(spec: SimSpec, token: TokenSpec) -> float:
    """Std of one bar's net exchange inflow of ``token`` implied by the flow parameters (token units).

    Inflows and outflows are compound Poisson, so Var(net) = sum over kinds of rate * E[size^2]:
    lognormal flows E = median^2 e^(2 sigma^2); whales threshold^2 * 2 e^(2 a^2) Phi(2a).
    Exchange-to-exchange moves add nothing (they count in and out at once).
    """
    if not spec.exchange_wallets:
        return 1.0  # no labelled exchange: no flows, s is always 0
    hours = spec.bar_seconds / 3600.0
    median = spec.flow_size_usd / spec.token_usd_price_at_epoch(token)
    var = hours * spec.exchange_flows_per_hour * 2.0 * median**2 * math.exp(2 * FLOW_LOG_SIGMA**2)
    if token.whale_threshold > 0:
        a = WHALE_LOG_SIGMA
        second_moment = token.whale_threshold**2 * 2.0 * math.exp(2 * a * a) * float(ndtr(2 * a))
        var += (
            hours / 24.0 * spec.whales_per_day * (WHALE_DIRECTIONS[0] + WHALE_DIRECTIONS[1]) * second_moment
        )
    return math.sqrt(var) if var > 0 else 1.0


def probability_up(
    s: np.ndarray, sigma: np.ndarray, beta: float, asset: AssetSpec, bar_seconds: int
) -> np.ndarray:
    """P(next bar's fair log return > 0 | s, the next bar's diffusive std sigma)."""
    s, sigma = np.asarray(s, dtype=float), np.asarray(sigma, dtype=float)
    lam = asset.jumps_per_day * bar_seconds / 86_400.0
    top = int(poisson.isf(1e-15, lam)) + 1 if lam > 0 else 0
    n = np.arange(top + 1)
    weights = poisson.pmf(n, lam) if lam > 0 else np.ones(1)
    spread = np.sqrt(sigma[..., None] ** 2 + n * asset.jump_size**2)
    return (weights * ndtr(-beta * s[..., None] * sigma[..., None] / spread)).sum(axis=-1) / weights.sum()


def oracle_hits(p_up: np.ndarray, up: np.ndarray) -> np.ndarray:
    """1 where the oracle (up iff p_up > 1/2) called the direction, 0 where not, 1/2 on a tie."""
    call = np.sign(p_up - 0.5)
    actual = np.where(up, 1.0, -1.0)
    return np.where(call == 0, 0.5, (call == actual).astype(float))


@dataclass(frozen=True)
class BayesAccuracy:
    """The best directional accuracy any forecaster can expect on a window, and what the oracle got.

    ``expected`` is A* = mean of max(p_up, 1 - p_up) over the bars; ``realised`` is the oracle's hit
    rate on the bars' actual next-bar returns (ties count 1/2); ``stderr`` is the binomial standard
    error of a hit rate over ``bars`` bars at accuracy ``expected``.
    """

    expected: float
    realised: float
    bars: int
    stderr: float
    by_asset: dict[str, tuple[float, float, int]]  # asset -> (expected, realised, bars)
