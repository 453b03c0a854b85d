"""An account's state: its books (one per strategy or followed leader), live orders, equity marks,
high-water mark and drawdown state, and today's P&L mark. Time comes in as ``now`` (epoch s)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from execution.portfolio import ZERO, Portfolio
from execution.risk import TokenBucket
from execution.venues.base import Side, VenueFill
from kimera.config import ExecutionAccount


class TradingState(StrEnum):
    """ACTIVE trades; REDUCE_ONLY lets only orders that shrink a position through; PAUSED none."""

    ACTIVE = "ACTIVE"
    REDUCE_ONLY = "REDUCE_ONLY"
    PAUSED = "PAUSED"


@dataclass
class LiveOrder:
    client_order_id: str
    account: str
    book: str
    asset: str
    symbol: str
    side: Side
    amount: Decimal
    limit_price: Decimal
    filled: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled


@dataclass
class Book:
    """What one strategy (or one copied leader) holds inside an account, and the capital it sizes to."""

    name: str
    capital: float
    portfolio: Portfolio = field(default_factory=lambda: Portfolio([]))
    targets: dict[str, float] = field(default_factory=dict)  # asset -> last target notional (quote)
    equity_history: list[tuple[float, float]] = field(default_factory=list)


class AccountState:
    """One account: limits from the config, books, live orders, equity history and trading state."""

    def __init__(self, config: ExecutionAccount):
        self.config = config
        self.name = config.name
        self.books: dict[str, Book] = {}
        self.live: dict[str, LiveOrder] = {}
        self.state = TradingState.ACTIVE
        self.high_water = config.capital
        self.equity_history: list[tuple[float, float]] = []
        self.day: str | None = None
        self.day_start_pnl = 0.0
        self.orders_bucket: TokenBucket | None = None  # made on first use, from the injected clock
        self.messages_bucket: TokenBucket | None = None

    def book(self, name: str, capital: float) -> Book:
        b = self.books.get(name)
        if b is None:
            b = self.books[name] = Book(name, capital)
        return b

    # --- exposure --------------------------------------------------------------------------------
    def book_exposure(self, book: str, asset: str) -> float:
        """Position of one book plus what its live orders may still add (signed, base units)."""
        b = self.books.get(book)
        total = float(b.portfolio.quantity(asset)) if b else 0.0
        for o in self.live.values():
            if o.book == book and o.asset == asset:
                total += o.side.sign * float(o.remaining)
        return total

    def exposure(self, asset: str) -> float:
        """The account's position in ``asset`` over every book, plus its live orders (signed, base)."""
        total = sum(float(b.portfolio.quantity(asset)) for b in self.books.values())
        for o in self.live.values():
            if o.asset == asset:
                total += o.side.sign * float(o.remaining)
        return total

    def assets(self) -> set[str]:
        held = {a for b in self.books.values() for a, p in b.portfolio.positions.items() if p.quantity}
        return held | {o.asset for o in self.live.values()}

    def positions(self) -> dict[str, dict[str, str]]:
        """Non-flat positions by book and asset, as exact decimal text (base units)."""
        return {
            b.name: {a: str(p.quantity) for a, p in b.portfolio.positions.items() if p.quantity}
            for b in self.books.values()
            if any(p.quantity for p in b.portfolio.positions.values())
        }

    # --- P&L -------------------------------------------------------------------------------------
    def pnl(self, marks: dict[str, float]) -> float:
        """Realised + unrealised - fees over every book (quote)."""
        return sum(book_pnl(b, marks) for b in self.books.values())

    def equity(self, marks: dict[str, float]) -> float:
        return self.config.capital + self.pnl(marks)

    def daily_pnl(self, marks: dict[str, float], now: float, total: float | None = None) -> float:
        """P&L since the first mark of the UTC day of ``now`` (``total``: today's P&L, if known)."""
        total = self.pnl(marks) if total is None else total
        day = _day(now)
        if day != self.day:
            self.day, self.day_start_pnl = day, total
        return total - self.day_start_pnl

    def mark(self, marks: dict[str, float], now: float) -> float:
        """Record equity at ``now``; move the high-water mark and the drawdown state. Returns equity."""
        equity = self.equity(marks)
        _record(self.equity_history, now, equity)
        self.high_water = max(self.high_water, equity)
        drawdown = 1 - equity / self.high_water
        limits = self.config.portfolio
        if drawdown >= limits.drawdown_pause:
            self.state = TradingState.PAUSED
        elif drawdown >= limits.drawdown_reduce_only:
            self.state = TradingState.REDUCE_ONLY
        else:
            self.state = TradingState.ACTIVE
        for b in self.books.values():
            _record(b.equity_history, now, b.capital + book_pnl(b, marks))
        return equity

    def apply_fill(self, fill: VenueFill) -> LiveOrder | None:
        order = self.live.get(fill.client_order_id)
        if order is None:
            return None
        self.books[order.book].portfolio.apply(order.asset, fill)
        order.filled += fill.amount
        if order.remaining <= 0:
            del self.live[fill.client_order_id]
        return order


def _day(now: float) -> str:
    """The UTC day of ``now`` (epoch s), as 'YYYY-MM-DD'."""
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def book_pnl(book: Book, marks: dict[str, float]) -> float:
    total = ZERO
    for asset, p in book.portfolio.positions.items():
        mark = marks.get(asset)
        total += p.realised - p.fees + p.unrealised(None if mark is None else Decimal(repr(mark)))
    return float(total)


def _record(history: list[tuple[float, float]], at: float, equity: float) -> None:
    """Append a mark; a second mark at the same moment (two assets' signals of one bar) replaces it,
    so returns are per period and not diluted by zero-length steps."""
    if history and history[-1][0] == at:
        history[-1] = (at, equity)
    else:
        history.append((at, equity))
