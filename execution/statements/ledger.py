"""One account's day, read from the journal: opening and closing positions, P&L, every fill, costs.

Conventions (UTC):

- A fill belongs to the day of its trade time as the venue reports it (``fills.at``).
- Positions and realised P&L come from replaying every fill of the account up to the day's end
  through :class:`execution.portfolio.Portfolio`; the day's realised P&L is the difference between
  the replay at the day's end and at its start.
- A position is marked at the arrival price (median mid) of the latest decision that traded the
  asset before the mark time; the statement names the mark and its time.
- Fees are exchange commissions (CEX fills), gas the cost of a pool fill, as in
  ``execution.reports.costs``. Day P&L = realised + change in unrealised - fees - gas.
- Slippage (positive = cost, quote currency): side x (fill price - reference) x amount, against the
  arrival price and against the best single venue's touch at decision time (``decision_quotes``).
- Accounts: the accounts layer (``execution/accounts``) journals each account's order in
  ``account_orders``, keyed by the service order's parent id; a service order belongs to that
  account. A journal without that table (no accounts configured) has the single account
  :data:`DEFAULT_ACCOUNT`, which also holds any order no account claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from execution.journal_reader import JournalReader
from execution.portfolio import Portfolio
from execution.venues.base import Side, VenueFill

DEFAULT_ACCOUNT = "default"
ZERO = Decimal(0)


class UnknownAccount(ValueError):
    """The account asked for has no orders in the journal."""


@dataclass(frozen=True)
class StatementFill:
    at: datetime
    venue: str
    kind: str  # cex | amm
    symbol: str
    asset: str
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal  # commission on a CEX, gas in a pool
    client_order_id: str
    model_tag: str | None
    arrival: Decimal | None
    best_venue: str | None
    best_price: Decimal | None

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    @property
    def notional(self) -> Decimal:
        return self.price * self.amount

    def slippage_vs(self, reference: Decimal | None) -> Decimal | None:
        return None if reference is None else self.sign * (self.price - reference) * self.amount


@dataclass
class PositionLine:
    asset: str
    opening: Decimal
    closing: Decimal
    average_price: Decimal
    mark: Decimal | None
    mark_at: datetime | None
    realised: Decimal  # on the day
    unrealised: Decimal  # at the close
    fills: int  # on the day


@dataclass
class BestExecution:
    fills: int = 0
    arrival_notional: Decimal = ZERO
    vs_arrival: Decimal = ZERO
    compared_to_best: int = 0  # fills whose decision has a best-venue quote
    best_notional: Decimal = ZERO
    vs_best: Decimal = ZERO

    @staticmethod
    def _bps(value: Decimal, notional: Decimal) -> float | None:
        return float(value / notional * 10_000) if notional else None

    @property
    def vs_arrival_bps(self) -> float | None:
        return self._bps(self.vs_arrival, self.arrival_notional)

    @property
    def vs_best_bps(self) -> float | None:
        return self._bps(self.vs_best, self.best_notional)


@dataclass
class Statement:
    account: str
    day: date
    journal: str  # where it was read, without credentials
    positions: list[PositionLine]
    fills: list[StatementFill]
    realised: Decimal
    unrealised_open: Decimal
    unrealised_close: Decimal
    fees: Decimal
    gas: Decimal
    best_execution: BestExecution = field(default_factory=BestExecution)

    @property
    def day_pnl(self) -> Decimal:
        return self.realised + (self.unrealised_close - self.unrealised_open) - self.fees - self.gas


def _account_join(reader: JournalReader) -> str | None:
    """The join that gives a service order (``o``) its account (``ao.account``), or None without accounts."""
    if reader.has_table("account_orders"):
        return "LEFT JOIN account_orders ao ON ao.client_order_id = o.parent_id"
    return None


def accounts(reader: JournalReader) -> list[str]:
    """The accounts the journal holds orders for (the single default one without the accounts layer)."""
    join = _account_join(reader)
    if join is None:
        return [DEFAULT_ACCOUNT]
    found = [
        r[0]
        for r in reader.rows(
            f"SELECT DISTINCT COALESCE(ao.account, ?) FROM orders o {join}", (DEFAULT_ACCOUNT,)
        )
    ]
    return sorted(found) or [DEFAULT_ACCOUNT]


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def _fills_until(
    reader: JournalReader, account: str, end: float, kinds: dict[str, str]
) -> list[StatementFill]:
    join = _account_join(reader)
    has_account = join is not None
    if not has_account and account != DEFAULT_ACCOUNT:
        raise UnknownAccount(f"account {account!r} is not in the journal; it holds: {DEFAULT_ACCOUNT}")
    quotes = reader.has_table("decision_quotes")
    sql = f"""SELECT f.at, f.venue, f.symbol, o.asset, f.side, f.amount, f.price, f.fee, f.client_order_id,
                     o.model_tag, p.reference_price, {"q.venue, q.price" if quotes else "NULL, NULL"}
              FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
              LEFT JOIN parents p ON p.parent_id = o.parent_id
              {"LEFT JOIN decision_quotes q ON q.parent_id = o.parent_id" if quotes else ""}
              {join or ""}
              WHERE f.at < ? {"AND COALESCE(ao.account, ?) = ?" if has_account else ""}
              ORDER BY f.at, f.venue, f.fill_id"""
    params = (end, DEFAULT_ACCOUNT, account) if has_account else (end,)
    return [
        StatementFill(
            datetime.fromtimestamp(r[0], UTC).replace(tzinfo=None),
            r[1],
            kinds.get(r[1], "cex"),
            r[2],
            r[3],
            r[4],
            _dec(r[5]),
            _dec(r[6]),
            _dec(r[7]),
            r[8],
            r[9],
            _dec(r[10]),
            r[11],
            _dec(r[12]),
        )  # fmt: skip
        for r in reader.rows(sql, params)
    ]


def _replay(fills: list[StatementFill]) -> Portfolio:
    book = Portfolio([])
    for f in fills:
        vf = VenueFill(f.venue, "", f.client_order_id, f.symbol, Side(f.side), f.price, f.amount, f.fee, 0.0)
        book.apply(f.asset, vf)
    return book


def _marks(fills: list[StatementFill]) -> dict[str, tuple[Decimal, datetime]]:
    """Per asset, the arrival price of the latest fill's decision (fills are in time order)."""
    marks: dict[str, tuple[Decimal, datetime]] = {}
    for f in fills:
        if f.arrival is not None:
            marks[f.asset] = (f.arrival, f.at)
    return marks


def build_statement(reader: JournalReader, account: str, day: date, kinds: dict[str, str]) -> Statement:
    """The statement of ``account`` for ``day`` (UTC) from the journal ``reader`` reads.

    Raises :class:`UnknownAccount` naming the journal's accounts when ``account`` is not one of them.
    """
    if account not in accounts(reader):
        raise UnknownAccount(
            f"account {account!r} is not in the journal; it holds: {', '.join(accounts(reader))}"
        )
    start = datetime.combine(day, time())
    end = start + timedelta(days=1)
    every = _fills_until(reader, account, _epoch(end), kinds)
    before = [f for f in every if f.at < start]
    today = every[len(before) :]
    opening, closing = _replay(before), _replay(every)
    open_marks, close_marks = _marks(before), _marks(every)
    positions: list[PositionLine] = []
    for asset in sorted(closing.positions):
        o, c = opening.position(asset), closing.positions[asset]
        if o.quantity == c.quantity == 0 and not any(f.asset == asset for f in today):
            continue  # flat all day and untouched: nothing to state
        mark, mark_at = close_marks.get(asset, (None, None))
        positions.append(PositionLine(
            asset, o.quantity, c.quantity, c.average_price, mark, mark_at, c.realised - o.realised,
            c.unrealised(mark), sum(1 for f in today if f.asset == asset),
        ))  # fmt: skip
    unrealised_open = sum(
        (p.unrealised(open_marks.get(a, (None,))[0]) for a, p in opening.positions.items()), ZERO
    )
    best = BestExecution()
    for f in today:
        best.fills += 1
        if f.arrival is not None:
            best.arrival_notional += f.arrival * f.amount
            best.vs_arrival += f.slippage_vs(f.arrival)
        if f.best_price is not None:
            best.compared_to_best += 1
            best.best_notional += f.best_price * f.amount
            best.vs_best += f.slippage_vs(f.best_price)
    return Statement(
        account=account, day=day, journal=reader.where, positions=positions, fills=today,
        realised=sum((p.realised for p in positions), ZERO), unrealised_open=unrealised_open,
        unrealised_close=sum((p.unrealised for p in positions), ZERO),
        fees=sum((f.fee for f in today if f.kind != "amm"), ZERO),
        gas=sum((f.fee for f in today if f.kind == "amm"), ZERO), best_execution=best,
    )  # fmt: skip
