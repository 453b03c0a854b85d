"""The best venue's price when a decision is made, journaled beside the parent order.

Best execution is judged against two prices known at decision time: the arrival price (the median
mid, the parent's ``reference_price``) and the best single venue's touch for the order's side (the
lowest ask to buy, the highest bid to sell; a pool counts at its mid). The second one is not in the
books the journal keeps, so it is written here, in the decision's own journal unit
(``decision_quotes``), and the daily statement (``execution.statements``) reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from execution.marketdata import MarketData
from execution.slicing import ParentOrder
from execution.venues.base import Side

QUOTE_SQL = "INSERT INTO decision_quotes (parent_id, side, venue, price, at) VALUES (?,?,?,?,?)"


@dataclass(frozen=True)
class BestQuote:
    venue: str
    price: float


def best_quote(market: MarketData, symbol: str, side: Side) -> BestQuote | None:
    """The best fresh touch for ``side`` over every venue quoting ``symbol``, or None when none is fresh."""
    quotes: list[BestQuote] = []
    for venue, v in market.venues.items():
        if symbol not in market.symbols.get(venue, []):
            continue
        if v.kind == "amm":
            pool = market.pool(venue, symbol)
            if pool is not None and pool.mid:
                quotes.append(BestQuote(venue, float(pool.mid)))
            continue
        book = market.book(venue, symbol)
        levels = None if book is None else book.asks if side is Side.BUY else book.bids
        if levels is not None and len(levels):
            quotes.append(BestQuote(venue, float(levels[0, 0])))
    if not quotes:
        return None
    pick = min if side is Side.BUY else max
    return pick(quotes, key=lambda q: q.price)


def quote_statement(parent: ParentOrder, quote: BestQuote, dialect: str) -> tuple[str, tuple]:
    """The journal row for ``quote``, stamped with the parent's decision time (money as the journal
    stores it: text on SQLite, NUMERIC on PostgreSQL)."""
    price = Decimal(repr(quote.price))
    money = str(price) if dialect == "sqlite" else price
    return QUOTE_SQL, (parent.parent_id, parent.side, quote.venue, money, parent.created_at)
