"""Copy trading's allocation rules: a leader's target becomes a follower's, within the follower's limits."""

from __future__ import annotations

from kimera.config import CopySubscription


def follower_target(
    sub: CopySubscription,
    leader_weight: float,
    leader_limit_use: float,
    follower_equity: float,
    follower_max_position: float,
) -> float:
    """Signed target notional (quote) of the follower's copy of one leader position.

    ``leader_weight`` is the leader's target over its capital; ``leader_limit_use`` its target over
    its position limit. ``equity_fraction``: weight x follower equity x value; ``fixed_notional``:
    weight x value; ``risk_budget``: limit use x the follower's position limit x value. Never beyond
    the follower's position limit.
    """
    if sub.rule == "equity_fraction":
        target = leader_weight * follower_equity * sub.value
    elif sub.rule == "fixed_notional":
        target = leader_weight * sub.value
    else:
        target = leader_limit_use * follower_max_position * sub.value
    return max(-follower_max_position, min(follower_max_position, target))


def book_capital(sub: CopySubscription, follower_capital: float) -> float:
    """The capital a follower's copy book stands for (its returns are measured against it)."""
    return sub.value if sub.rule == "fixed_notional" else follower_capital * sub.value
