"""Paper-trading P&L from the journal's fills alone: cash, positions, equity and drawdown over time.

Each asset is marked at its latest fill price (the journal holds no book), so the curve moves only
when something fills; the service's ``GET /pnl`` marks at the venues' median mid instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PaperPnl:
    fills: int
    notional: float  # traded, in the quote currency
    fees: float
    pnl: float  # equity at the last fill: cash plus positions at their last fill price, fees paid
    max_drawdown: float  # largest fall of equity from a peak, quote currency
    positions: dict[str, float]


def equity_curve(fills: pd.DataFrame) -> pd.DataFrame:
    """Equity after each fill (``time``, ``equity``, ``drawdown``), in the quote currency, from zero."""
    sign = np.where(fills["side"].str.lower() == "buy", 1.0, -1.0)
    cash = np.cumsum(-sign * fills["price"].to_numpy() * fills["amount"].to_numpy() - fills["fee"].to_numpy())
    holdings = np.zeros(len(fills))
    for asset in fills["asset"].unique():
        mine = (fills["asset"] == asset).to_numpy()
        quantity = np.cumsum(np.where(mine, sign * fills["amount"].to_numpy(), 0.0))
        mark = pd.Series(np.where(mine, fills["price"].to_numpy(), np.nan)).ffill().fillna(0.0).to_numpy()
        holdings += quantity * mark
    equity = cash + holdings
    peak = np.maximum.accumulate(np.concatenate([[0.0], equity]))[1:]
    return pd.DataFrame({"time": fills["time"].to_numpy(), "equity": equity, "drawdown": equity - peak})


def summarise(fills: pd.DataFrame) -> PaperPnl:
    curve = equity_curve(fills)
    sign = np.where(fills["side"].str.lower() == "buy", 1.0, -1.0)
    positions = (
        pd.Series(sign * fills["amount"].to_numpy())
        .groupby(fills["asset"].to_numpy())
        .sum()
        .round(12)
        .to_dict()
    )
    return PaperPnl(
        fills=len(fills),
        notional=float((fills["price"] * fills["amount"]).sum()),
        fees=float(fills["fee"].sum()),
        pnl=float(curve["equity"].iloc[-1]),
        max_drawdown=float(-curve["drawdown"].min()),
        positions={str(k): float(v) for k, v in positions.items()},
    )
