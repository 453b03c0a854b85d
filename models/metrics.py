"""Forecast quality on realised returns: direction, correlation, probability and interval scores."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import pearsonr, spearmanr

_EPS = 1e-6


def _corr(fn, a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan  # a constant forecast has no correlation, not zero
    return float(fn(a, b)[0])


def forecast_metrics(
    forecast: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    p_up: np.ndarray,
    realised: np.ndarray,
) -> dict[str, float]:
    """Scores of forecasts against realised forward returns (labelled bars only).

    accuracy: share of bars where (p_up > 0.5) matches (return > 0), with its standard error;
    ic / rank_ic: Pearson / Spearman correlation of forecast and return; log_loss and brier of
    p_up; coverage: share of returns inside [lower, upper]; interval_width: mean upper - lower.
    """
    keep = ~np.isnan(realised)
    forecast, lower, upper, p_up, realised = (a[keep] for a in (forecast, lower, upper, p_up, realised))
    n = len(realised)
    if n == 0:
        raise ValueError("no labelled bars to score")
    up = (realised > 0).astype(np.float64)
    hit = ((p_up > 0.5).astype(np.float64) == up).astype(np.float64)
    accuracy = float(hit.mean())
    p = np.clip(p_up, _EPS, 1 - _EPS)
    return {
        "n": n,
        "accuracy": accuracy,
        "accuracy_se": math.sqrt(max(accuracy * (1 - accuracy), 1e-12) / n),
        "ic": _corr(pearsonr, forecast, realised),
        "rank_ic": _corr(spearmanr, forecast, realised),
        "log_loss": float(-np.mean(up * np.log(p) + (1 - up) * np.log(1 - p))),
        "brier": float(np.mean((p_up - up) ** 2)),
        "coverage": float(np.mean((realised >= lower) & (realised <= upper))),
        "interval_width": float(np.mean(upper - lower)),
        "rmse": float(np.sqrt(np.mean((forecast - realised) ** 2))),
    }
