"""Sizing: a forecast and its interval become a target position, capped and scaled down by uncertainty.

Mean-variance: the edge is the forecast log return beyond a cost hurdle, the risk is the interval's
implied standard deviation ``sigma = (upper - lower) / (2 z)``, and the fraction of capital held is
``edge / (gamma * sigma**2)``, capped by the leverage and position limits. A wide interval (an
unsure model) gives a small position; a forecast inside the hurdle gives none.
"""

from __future__ import annotations

import math

from kimera.config import ExecutionSizing


def uncertainty(lower: float, upper: float, z: float) -> float:
    """Standard deviation implied by a two-sided interval of half-width ``z`` sigmas."""
    return max((upper - lower) / (2 * z), 1e-9)


def target_notional(
    forecast: float, lower: float, upper: float, sizing: ExecutionSizing, max_position_notional: float
) -> float:
    """Signed target position in quote currency (positive long, negative short)."""
    sigma = uncertainty(lower, upper, sizing.interval_z)
    hurdle = sizing.cost_hurdle_bps / 1e4
    edge = math.copysign(max(abs(forecast) - hurdle, 0.0), forecast)
    fraction = edge / (sizing.risk_aversion * sigma * sigma)
    fraction = max(-sizing.max_leverage, min(sizing.max_leverage, fraction))
    notional = fraction * sizing.capital
    return max(-max_position_notional, min(max_position_notional, notional))
