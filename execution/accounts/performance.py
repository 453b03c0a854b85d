"""Performance per account, strategy and follower: return, Sharpe, drawdown, tracking error to the leader.

Pure functions of equity series ``[(time, equity), ...]`` marked at the same moments; the status
API and the report call :func:`summary` on a desk.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

YEAR_S = 365 * 86_400


def returns(series: list[tuple[float, float]]) -> list[float]:
    return [b / a - 1 for (_, a), (_, b) in zip(series, series[1:], strict=False) if a > 0]


def periods_per_year(series: list[tuple[float, float]]) -> float:
    gaps = [b - a for (a, _), (b, _) in zip(series, series[1:], strict=False) if b > a]
    return YEAR_S / statistics.median(gaps) if gaps else 0.0


def total_return(series: list[tuple[float, float]]) -> float | None:
    return series[-1][1] / series[0][1] - 1 if len(series) > 1 and series[0][1] > 0 else None


def sharpe(series: list[tuple[float, float]]) -> float | None:
    """Annualised Sharpe ratio of the marks' returns (risk-free 0); None with fewer than 3 marks or no variance."""
    r = returns(series)
    if len(r) < 2:
        return None
    sd = statistics.stdev(r)
    return None if sd == 0 else statistics.fmean(r) / sd * math.sqrt(periods_per_year(series))


def max_drawdown(series: list[tuple[float, float]]) -> float:
    peak, worst = -math.inf, 0.0
    for _, equity in series:
        peak = max(peak, equity)
        if peak > 0:
            worst = max(worst, 1 - equity / peak)
    return worst


def tracking_error(follower: list[tuple[float, float]], leader: list[tuple[float, float]]) -> float | None:
    """Annualised standard deviation of the follower's returns minus the leader's, on common marks."""
    at = {t: e for t, e in leader}
    common_f = [(t, e) for t, e in follower if t in at]
    common_l = [(t, at[t]) for t, _ in common_f]
    diff = [a - b for a, b in zip(returns(common_f), returns(common_l), strict=True)]
    if len(diff) < 2:
        return None
    return statistics.stdev(diff) * math.sqrt(periods_per_year(common_f))


def figures(series: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "equity": series[-1][1] if series else None,
        "return": total_return(series),
        "sharpe": sharpe(series),
        "max_drawdown": max_drawdown(series),
        "marks": len(series),
    }
