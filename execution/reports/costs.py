"""Transaction-cost analysis per venue: slippage against the arrival price, fees and gas.

For every fill, the *arrival price* is the reference price (the median mid over the venues) when
the decision that led to it was made (its parent order's ``reference_price``). In the quote
currency, positive numbers are costs:

- slippage = side x (fill price - arrival price) x amount (for a pool this includes its LP fee,
  which is inside the swap price);
- fees = the exchange's commission on CEX fills; gas = the fee of a pool fill (gas in quote);
- basis points are of the arrival notional (arrival price x amount).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from execution.journal import Journal
from kimera.config import KimeraConfig

ZERO = Decimal(0)


@dataclass
class VenueCosts:
    venue: str
    kind: str
    orders: int = 0
    rejected: int = 0
    fills: int = 0
    ordered_notional: Decimal = ZERO
    notional: Decimal = ZERO  # arrival notional of what filled
    slippage: Decimal = ZERO
    fees: Decimal = ZERO
    gas: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.slippage + self.fees + self.gas

    def bps(self, value: Decimal) -> float:
        return float(value / self.notional * 10_000) if self.notional else 0.0

    def row(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            total=self.total,
            fill_rate=float(self.notional / self.ordered_notional) if self.ordered_notional else 0.0,
            slippage_bps=self.bps(self.slippage), fees_bps=self.bps(self.fees), gas_bps=self.bps(self.gas),
            total_bps=self.bps(self.total),
        )  # fmt: skip
        return out


@dataclass(frozen=True)
class FillCost:
    venue: str
    kind: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    arrival: Decimal
    fee: Decimal

    @property
    def slippage(self) -> Decimal:
        sign = 1 if self.side == "buy" else -1
        return sign * (self.price - self.arrival) * self.amount

    @property
    def slippage_bps(self) -> float:
        return float(self.slippage / (self.arrival * self.amount) * 10_000)

    @property
    def notional(self) -> Decimal:
        return self.arrival * self.amount


def venue_kinds(config: KimeraConfig) -> dict[str, str]:
    """cex or amm for each venue name the config can trade on."""
    from execution.venues.specs import paper_specs

    kinds = {spec.name: spec.kind for spec in paper_specs(config)}
    for ref in config.execution.venues:
        if ref.type == "ccxt":
            kinds[ref.name] = "cex"
        elif ref.type == "uniswap":
            kinds[ref.name] = "amm"
    return kinds


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def fill_costs(url: str, kinds: dict[str, str]) -> list[FillCost]:
    """Each journaled fill with its arrival price (fills whose order or parent is unknown are left out)."""
    journal = Journal(url)
    rows = journal.query(
        """SELECT f.venue, f.symbol, f.side, f.amount, f.price, f.fee, p.reference_price
           FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
           JOIN parents p ON p.parent_id = o.parent_id
           WHERE p.reference_price IS NOT NULL ORDER BY f.at"""
    )
    return [
        FillCost(r[0], kinds.get(r[0], "cex"), r[1], r[2], _dec(r[3]), _dec(r[4]), _dec(r[6]), _dec(r[5]))
        for r in rows
    ]


def cost_table(url: str, kinds: dict[str, str]) -> tuple[list[VenueCosts], list[FillCost]]:
    """Costs per venue (sorted by name, then an ``all`` row) and the fills they come from."""
    journal = Journal(url)
    table: dict[str, VenueCosts] = {}
    for venue, state, amount, limit in journal.query("SELECT venue, state, amount, limit_price FROM orders"):
        row = table.setdefault(venue, VenueCosts(venue, kinds.get(venue, "cex")))
        row.orders += 1
        row.rejected += state == "rejected"
        if limit is not None:
            row.ordered_notional += _dec(amount) * _dec(limit)
    fills = fill_costs(url, kinds)
    for f in fills:
        row = table.setdefault(f.venue, VenueCosts(f.venue, f.kind))
        row.fills += 1
        row.notional += f.notional
        row.slippage += f.slippage
        if f.kind == "amm":
            row.gas += f.fee
        else:
            row.fees += f.fee
    rows = [table[name] for name in sorted(table)]
    total = VenueCosts("all", "-")
    for r in rows:
        for name in (
            "orders",
            "rejected",
            "fills",
            "ordered_notional",
            "notional",
            "slippage",
            "fees",
            "gas",
        ):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    return [*rows, total], fills


COLUMNS = ("venue", "kind", "orders", "rejected", "fills", "fill_rate", "notional", "slippage_bps", "fees_bps",
           "gas_bps", "total_bps", "total")  # fmt: skip


def format_table(rows: list[VenueCosts]) -> str:
    """The table as aligned text (quote currency and basis points of arrival notional)."""

    def cell(row: dict[str, Any], name: str) -> str:
        value = row[name]
        if name == "fill_rate":
            return f"{value:.1%}"
        if isinstance(value, float):
            return f"{value:.2f}"
        if isinstance(value, Decimal):
            return f"{value:,.2f}"
        return str(value)

    cells = [[cell(r.row(), c) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(COLUMNS)]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(COLUMNS, widths, strict=True))
        )
    ]
    lines += ["  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(line, widths, strict=True)))
              for line in cells]  # fmt: skip
    return "\n".join(lines)
