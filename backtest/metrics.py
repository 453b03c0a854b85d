"""The figures a backtest reports, from its equity by bar and its fills."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pandas as pd

from backtest.fills import BUY, Fill, SimOrder

SECONDS_PER_YEAR = 365.0 * 24 * 3600


def performance(equity: np.ndarray, exposure: np.ndarray, traded: np.ndarray, capital: float,
                bar_seconds: float) -> dict[str, float]:  # fmt: skip
    """Total return, Sharpe and Sortino (annualised, per bar), max drawdown, win rate (bars held
    that made money) and turnover (mean traded notional per bar / capital)."""
    nan = math.nan
    if len(equity) < 2:
        return dict(total_return=nan, sharpe=nan, sortino=nan, max_drawdown=nan, win_rate=nan, turnover=nan)
    returns = equity[1:] / equity[:-1] - 1
    per_year = math.sqrt(SECONDS_PER_YEAR / bar_seconds)
    sd = float(returns.std(ddof=1))
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    peak = np.maximum.accumulate(equity)
    held = exposure[:-1] != 0  # the position held over each bar
    return dict(
        total_return=float(equity[-1] / equity[0] - 1),
        sharpe=float(returns.mean() / sd * per_year) if sd > 0 else 0.0,
        sortino=float(returns.mean() / downside * per_year) if downside > 0 else 0.0,
        max_drawdown=float(np.max(1 - equity / peak)),
        win_rate=float(np.mean(returns[held] > 0)) if held.any() else nan,
        turnover=float(traded.sum() / capital / (len(equity) - 1)),
    )


def costs_per_venue(orders: list[SimOrder], fills: list[Fill]) -> dict[str, dict[str, float]]:
    """Per venue: notional, fees, gas and slippage against the arrival mid (quote; positive is a
    cost), and slippage in bps of the notional."""
    arrival = {o.order_id: o.arrival_price for o in orders}
    out: dict[str, dict[str, float]] = defaultdict(
        lambda: dict(fills=0, notional=0.0, fees=0.0, gas=0.0, slippage=0.0)
    )
    for f in fills:
        row = out[f.venue]
        sign = 1.0 if f.side == BUY else -1.0
        row["fills"] += 1
        row["notional"] += f.price * f.amount
        row["fees"] += f.fee
        row["gas"] += f.gas
        row["slippage"] += sign * (f.price - arrival[f.order_id]) * f.amount
    for row in out.values():
        row["slippage_bps"] = row["slippage"] / row["notional"] * 1e4 if row["notional"] else 0.0
    return {v: dict(out[v]) for v in sorted(out)}


def vectorised(predictions: pd.DataFrame, mids: pd.DataFrame, fee_bps: float, min_edge_bps: float,
               bar_seconds: float, allow_short: bool = True) -> dict[str, float] | None:  # fmt: skip
    """The walk-forward's vectorised strategy (``models.strategy.backtest``) on the same predictions
    and bars: ±1 per asset when the forecast beats the edge, the log return of the quoted mid from
    the decision bar to ``horizon`` bars later, a flat fee per unit of turnover, no latency, depth,
    spread or gas."""
    from models.strategy import backtest, positions

    if predictions.empty:
        return None
    horizon = int(predictions["horizon"].iloc[0])
    wide = mids.pivot(index="bar_time", columns="asset", values="mid").sort_index()
    fwd = np.log(wide.shift(-horizon) / wide).stack().rename("fwd_ret").reset_index()
    frame = predictions.merge(fwd, on=["asset", "bar_time"], how="left")
    frame["position"] = positions(frame["forecast"].to_numpy(), min_edge_bps / 1e4, allow_short)
    frame = frame[frame["fwd_ret"].notna()]
    if frame.empty:
        return None
    bt = backtest(frame, horizon, fee_bps, bar_hours=bar_seconds / 3600)
    return dict(total_return=bt.total_return, sharpe=bt.sharpe, max_drawdown=bt.max_drawdown,
                exposure=bt.exposure, turnover=bt.turnover, periods=bt.periods)  # fmt: skip


def explain(result: dict[str, float], wf: dict[str, float] | None, capital: float, exposure: float,
            fee_bps: float) -> str:  # fmt: skip
    """One paragraph saying where the event-driven figure and the vectorised one part."""
    if wf is None:
        return "no vectorised figure: no prediction in the window had a forward return to score"
    costs = result["fees"] + result["gas"] + result["slippage"]
    before = result["total_return"] + costs / capital
    return (
        f"vectorised (unit positions at the mid, flat {fee_bps:g} bps per turnover, no latency or depth): "
        f"log return {wf['total_return']:+.4%}, mean |position| {wf['exposure']:.2f} of capital per asset; "
        f"event-driven: return {result['total_return']:+.4%}, of which costs "
        f"{-costs / capital:+.4%} (fees {result['fees']:,.2f}, gas {result['gas']:,.2f}, slippage vs arrival "
        f"{result['slippage']:,.2f} quote), {before:+.4%} before costs with mean |exposure| "
        f"{exposure:.2f} of capital (mean-variance sizing, not ±1); the rest is sizing and fills after latency"
    )
