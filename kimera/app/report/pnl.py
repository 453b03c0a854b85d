"""Paper-trading P&L from the journal's fills alone: equity and drawdown over time, positions.

The accounting is the execution service's own (``execution.portfolio``: Decimal, average cost,
realised and unrealised P&L, fees), replayed fill by fill. Each asset is marked at its latest fill
price (the journal holds no book), so the curve moves only when something fills; the service's
``GET /pnl`` marks at the venues' median mid instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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
    from execution.portfolio import Portfolio
    from execution.venues.base import Side

    book = Portfolio([])
    marks: dict[str, Decimal | None] = {}
    equity = np.empty(len(fills))
    for i, (asset, side, price, amount, fee) in enumerate(
        zip(fills["asset"], fills["side"], fills["price"], fills["amount"], fills["fee"], strict=True)
    ):
        price = Decimal(str(price))
        book.position(asset).apply(Side(str(side).lower()), price, Decimal(str(amount)), Decimal(str(fee)))
        marks[asset] = price
        equity[i] = float(book.pnl(marks)["total"])
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
