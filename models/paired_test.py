"""The paired test behind the promotion gate: is the candidate's log loss lower than noise explains?

Bars of one out-of-sample window are not independent draws: the assets of one bar share the
market's move, and a horizon of h bars makes neighbouring labels overlap (h - 1 bars in common),
so an i.i.d. standard error is too small and noise would pass. The test is Diebold and Mariano's
(1995) on the loss differential d_t = loss(served) - loss(candidate):

1. the differential is averaged over the assets of each bar, giving one value per bar time;
2. its long-run variance is Newey and West's (Bartlett weights) with ``lag = max(h - 1,
   floor(4 (T/100)^(2/9)))``, which covers the overlap and short-lived dependence;
3. the statistic gets Harvey, Leybourne and Newbold's (1997) small-sample correction and is
   compared with Student's t with T - 1 degrees of freedom, at the one-sided level of the rule's
   ``z`` (the normal quantile: 1.645 is 5 %, 2.326 is 1 %).

The candidate passes when the mean gain is above both ``min_improvement`` and that critical value
times the corrected standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedTest:
    """The test's figures: mean gain (nats/bar), its corrected standard error, and the bar it had to clear."""

    mean: float
    se: float
    needed: float
    periods: int
    lag: int
    critical: float

    @property
    def passed(self) -> bool:
        return self.mean > self.needed


def newey_west_lag(periods: int, horizon: int) -> int:
    """Bartlett-kernel lag: at least the label overlap (h - 1), else the usual rule of thumb."""
    return int(max(horizon - 1, math.floor(4 * (periods / 100) ** (2 / 9))))


def long_run_variance(d: np.ndarray, lag: int) -> float:
    """Newey-West variance of a series' mean times its length (Bartlett weights, ``lag`` autocovariances)."""
    centred = d - d.mean()
    n = len(centred)
    variance = float(centred @ centred) / n
    for k in range(1, min(lag, n - 1) + 1):
        variance += 2 * (1 - k / (lag + 1)) * float(centred[k:] @ centred[:-k]) / n
    return max(variance, 0.0)


def paired_test(
    gain: np.ndarray, bar_time: np.ndarray, horizon: int, *, z: float, min_improvement: float = 0.0
) -> PairedTest:
    """Diebold-Mariano test (HAC, HLN-corrected, Student's t) of the per-bar gain ``gain`` being > 0.

    ``gain`` holds loss(served) - loss(candidate) for each (asset, bar) pair; ``bar_time`` the bar
    of each. Fewer than two bar times give an infinite standard error (nothing passes).
    """
    from scipy import stats

    gain = np.asarray(gain, dtype=np.float64)
    times, index = np.unique(np.asarray(bar_time), return_inverse=True)
    per_bar = np.bincount(index, weights=gain) / np.bincount(index)
    periods = len(times)
    mean = float(per_bar.mean()) if periods else 0.0
    lag = newey_west_lag(periods, horizon)
    if periods < 2:
        return PairedTest(mean, math.inf, math.inf, periods, lag, math.inf)
    se = math.sqrt(long_run_variance(per_bar, lag) / periods)
    h = horizon
    hln = (periods + 1 - 2 * h + h * (h - 1) / periods) / periods
    se = se / math.sqrt(hln) if hln > 0 else math.inf
    critical = float(stats.t.ppf(stats.norm.cdf(z), df=periods - 1)) if z > 0 else 0.0
    needed = max(min_improvement, critical * se) if math.isfinite(se) else math.inf
    return PairedTest(mean, se, float(needed), periods, lag, critical)
