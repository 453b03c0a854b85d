"""The cost-aware strategy a forecast implies, and its backtest.

Next-bar execution: the decision is taken at bar close t from what is known at t; the position is
held from t to t+h and earns the forward log return ``fwd_ret`` of t. Positions are rebalanced every
h bars (no overlapping holdings); each change of position pays ``fee_bps`` per unit of turnover.
Assets are weighted equally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

HOURS_PER_YEAR = 365.0 * 24.0


def positions(forecast: np.ndarray, min_edge: float, allow_short: bool = True) -> np.ndarray:
    """+1 when the forecast beats the cost of trading, -1 (or 0 without shorts) below minus it, else 0."""
    long = forecast > min_edge
    short = (forecast < -min_edge) & allow_short
    return long.astype(np.float64) - short.astype(np.float64)


@dataclass(frozen=True)
class Backtest:
    equity: pd.Series  # cumulative net log return, indexed by decision time
    periods: int
    sharpe: float  # annualised, after fees
    sharpe_se: float  # its standard error (annualised)
    max_drawdown: float  # largest fall from a peak, as a fraction of equity
    win_rate: float  # share of periods in the market that made money after fees
    turnover: float  # mean |position change| per period
    total_return: float  # net log return over the window
    exposure: float  # share of periods in the market


def backtest(frame: pd.DataFrame, horizon: int, fee_bps: float, bar_hours: float = 1.0) -> Backtest:
    """Backtest ``frame`` (asset, bar_time, position, fwd_ret) of one model and test window."""
    fee = fee_bps / 1e4
    per_asset = []
    for _, rows in frame.sort_values(["asset", "bar_time"]).groupby("asset", sort=True):
        rows = rows[rows["fwd_ret"].notna()].iloc[::horizon]
        pos = rows["position"].to_numpy(dtype=np.float64)
        change = np.abs(np.diff(np.concatenate([[0.0], pos])))
        pnl = pos * rows["fwd_ret"].to_numpy() - fee * change
        per_asset.append(
            pd.DataFrame({"bar_time": rows["bar_time"].to_numpy(), "pnl": pnl, "turn": change, "pos": pos})
        )
    if not per_asset:
        raise ValueError("no labelled bars to backtest")
    book = pd.concat(per_asset).groupby("bar_time").mean().sort_index()
    pnl = book["pnl"].to_numpy()
    n = len(pnl)
    equity = pd.Series(np.cumsum(pnl), index=book.index, name="equity")
    periods_per_year = HOURS_PER_YEAR / (bar_hours * horizon)
    sd = float(pnl.std(ddof=1)) if n > 1 else 0.0
    sr = float(pnl.mean() / sd) if sd > 0 else 0.0
    peak = np.maximum.accumulate(np.concatenate([[0.0], equity.to_numpy()]))
    drawdown = float(np.max(peak[1:] - equity.to_numpy())) if n else 0.0
    active = book["pos"].to_numpy() != 0
    return Backtest(
        equity=equity,
        periods=n,
        sharpe=sr * math.sqrt(periods_per_year),
        sharpe_se=math.sqrt((1 + 0.5 * sr**2) / max(n, 1)) * math.sqrt(periods_per_year),
        max_drawdown=float(1 - math.exp(-drawdown)),
        win_rate=float(np.mean(pnl[active] > 0)) if active.any() else math.nan,
        turnover=float(book["turn"].mean()),
        total_return=float(equity.iloc[-1]) if n else 0.0,
        exposure=float(np.mean(np.abs(book["pos"].to_numpy()))),
    )
