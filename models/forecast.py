"""What every model gives for each window: a return forecast, quantiles and the probability of up."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm


@dataclass(frozen=True)
class Forecast:
    """Forecasts of the forward log return over the horizon, one entry per window."""

    ret: np.ndarray  # (n,) point forecast (mean)
    quantiles: np.ndarray  # (n, len(levels)), increasing along axis 1
    p_up: np.ndarray  # (n,) probability that the forward return is positive
    levels: tuple[float, ...]

    @property
    def lower(self) -> np.ndarray:
        return self.quantiles[:, 0]

    @property
    def upper(self) -> np.ndarray:
        return self.quantiles[:, -1]

    @property
    def coverage_nominal(self) -> float:
        """The probability the interval ``[lower, upper]`` is meant to hold."""
        return self.levels[-1] - self.levels[0]

    def take(self, index: np.ndarray) -> Forecast:
        return Forecast(self.ret[index], self.quantiles[index], self.p_up[index], self.levels)


def gaussian(mean: np.ndarray, sigma: float | np.ndarray, levels: tuple[float, ...]) -> Forecast:
    """A forecast with Gaussian errors of scale ``sigma`` around ``mean`` (tabular models, baselines)."""
    mean = np.asarray(mean, dtype=np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), mean.shape)
    z = norm.ppf(np.asarray(levels))
    quantiles = mean[:, None] + sigma[:, None] * z[None, :]
    p_up = norm.cdf(mean / np.maximum(sigma, 1e-12))
    return Forecast(mean, quantiles, p_up, tuple(levels))


def blend(forecasts: list[Forecast], weights: np.ndarray) -> Forecast:
    """The weighted average of forecasts (weights >= 0, summing to 1); quantiles stay increasing."""
    w = np.asarray(weights, dtype=np.float64)
    ret = sum(wi * f.ret for wi, f in zip(w, forecasts, strict=True))
    quantiles = sum(wi * f.quantiles for wi, f in zip(w, forecasts, strict=True))
    p_up = sum(wi * f.p_up for wi, f in zip(w, forecasts, strict=True))
    return Forecast(ret, quantiles, p_up, forecasts[0].levels)
