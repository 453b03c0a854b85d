"""The statement as titled tables of text cells, so the HTML and the PDF show the same figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from execution.statements.ledger import Statement


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    note: str = ""
    widths: tuple[int, ...] | None = None  # relative column widths in the PDF (None: equal)


def money(value: Decimal | None, places: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{places}f}"


def quantity(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0"


def bps(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def title(st: Statement) -> str:
    return f"Daily statement - account {st.account} - {st.day.isoformat()} (UTC)"


def summary(st: Statement) -> Table:
    be = st.best_execution
    rows = [
        ("Realised P&L", money(st.realised)),
        ("Unrealised P&L at the close", money(st.unrealised_close)),
        ("Change in unrealised P&L", money(st.unrealised_close - st.unrealised_open)),
        ("Fees (exchange commissions)", money(st.fees)),
        ("Gas (pool fills)", money(st.gas)),
        ("Day P&L (realised + change in unrealised - fees - gas)", money(st.day_pnl)),
        ("Fills", str(len(st.fills))),
        ("Traded notional", money(sum((f.notional for f in st.fills), Decimal(0)))),
        ("Slippage vs arrival (quote / bps)", f"{money(be.vs_arrival)} / {bps(be.vs_arrival_bps)}"),
        (f"Slippage vs best venue at decision ({be.compared_to_best} of {be.fills} fills)",
         f"{money(be.vs_best)} / {bps(be.vs_best_bps)}"),
    ]  # fmt: skip
    return Table("Summary (quote currency)", ("item", "value"), rows)


def positions(st: Statement) -> Table:
    rows = [
        (p.asset, quantity(p.opening), quantity(p.closing), money(p.average_price), money(p.mark),
         p.mark_at.strftime("%Y-%m-%d %H:%M:%S") if p.mark_at else "n/a", money(p.realised), money(p.unrealised),
         str(p.fills))
        for p in st.positions
    ]  # fmt: skip
    return Table(
        "Positions",
        ("asset", "opening", "closing", "avg price", "mark", "marked at", "realised", "unrealised", "fills"),
        rows,
        "Average cost; marked at the arrival price (median mid) of the latest decision that traded the asset.",
    )


def fills(st: Statement) -> Table:
    rows = []
    for f in st.fills:
        vs_arrival, vs_best = f.slippage_vs(f.arrival), f.slippage_vs(f.best_price)
        rows.append((
            f.at.strftime("%H:%M:%S"), f.venue, f.symbol, f.side, quantity(f.amount), money(f.price, 4),
            money(f.fee, 4), "gas" if f.kind == "amm" else "fee", money(f.arrival, 4), money(vs_arrival, 4),
            f"{f.best_venue} {money(f.best_price, 4)}" if f.best_venue else "n/a", money(vs_best, 4),
            f.client_order_id,
        ))  # fmt: skip
    return Table(
        "Fills",
        ("time", "venue", "symbol", "side", "amount", "price", "cost", "kind", "arrival", "slip/arr",
         "best venue", "slip/best", "order"),
        rows,
        "Slippage is a cost when positive: side x (fill price - reference) x amount.",
        (6, 15, 8, 4, 7, 8, 6, 4, 8, 7, 19, 7, 19),  # venue names and client order ids (ULIDs) stay on one line
    )  # fmt: skip


def all_tables(st: Statement) -> list[Table]:
    return [summary(st), positions(st), fills(st)]
