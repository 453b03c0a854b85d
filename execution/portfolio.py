"""Positions and P&L from fills: average cost, realised and unrealised P&L, fees, per asset."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from execution.venues.base import Side, VenueFill

ZERO = Decimal(0)


@dataclass
class Position:
    asset: str
    quantity: Decimal = ZERO
    average_price: Decimal = ZERO
    realised: Decimal = ZERO
    fees: Decimal = ZERO
    fills: int = 0

    def apply(self, side: Side, price: Decimal, amount: Decimal, fee: Decimal) -> None:
        signed = amount if side is Side.BUY else -amount
        self.fees += fee
        self.fills += 1
        q = self.quantity
        if q == 0 or (q > 0) == (signed > 0):  # opening or adding: new average cost
            self.average_price = (self.average_price * abs(q) + price * amount) / (abs(q) + amount)
            self.quantity = q + signed
            return
        closed = min(abs(q), amount)
        self.realised += closed * (price - self.average_price) * (1 if q > 0 else -1)
        self.quantity = q + signed
        if self.quantity == 0:
            self.average_price = ZERO
        elif (self.quantity > 0) != (q > 0):  # flipped: the rest opens at this price
            self.average_price = price

    def unrealised(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.quantity == 0:
            return ZERO
        return self.quantity * (mark - self.average_price)


class Portfolio:
    def __init__(self, assets: list[str]):
        self.positions = {a: Position(a) for a in assets}
        self.symbol_asset: dict[str, str] = {}

    def position(self, asset: str) -> Position:
        """The position in ``asset`` (a flat one when it never traded)."""
        return self.positions.setdefault(asset, Position(asset))

    def apply(self, asset: str, fill: VenueFill) -> None:
        self.position(asset).apply(fill.side, fill.price, fill.amount, fill.fee)

    def quantity(self, asset: str) -> Decimal:
        return self.positions[asset].quantity if asset in self.positions else ZERO

    def pnl(self, marks: dict[str, Decimal | None]) -> dict[str, Decimal]:
        realised = sum((p.realised for p in self.positions.values()), ZERO)
        unrealised = sum((p.unrealised(marks.get(a)) for a, p in self.positions.items()), ZERO)
        fees = sum((p.fees for p in self.positions.values()), ZERO)
        return {
            "realised": realised,
            "unrealised": unrealised,
            "fees": fees,
            "total": realised + unrealised - fees,
        }
