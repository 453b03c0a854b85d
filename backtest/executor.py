"""The execution path of a backtest, in-process: the service's sizing, pre-trade risk and router,
then orders to the backtest venues, journaled.

Per traded decision (a signal the live trader queued): the target position from
:func:`execution.sizing.target_notional` for the strategy the service's desk gives the signal
(:mod:`backtest.books`), the change from the current position up to the account's per-order
notional, the parent checks
of :class:`execution.risk.PreTradeRisk` (kill switch, daily loss, position limit), the least-cost
split of :func:`execution.router.route` over the books and pools of that moment, and per leg the
child checks (order notional, price band) and an IOC order at the planned worst level plus the
routing slippage allowance (``order_style: maker`` posts a GTC order at the best price of our side
of the cheapest book instead, which waits in the queue until the next bar).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

from backtest.books import Book, book_for
from backtest.candle_fills import last_close
from backtest.fills import BUY, SELL, BacktestJournal, BacktestVenues, Latency, SimOrder
from backtest.market import Market
from execution.killswitch import KillSwitch
from execution.risk import PreTradeRisk
from execution.router import CexInput, PoolInput, route
from execution.sizing import target_notional
from execution.slicing import split
from execution.venues.base import Side
from kimera.config import KimeraConfig
from live.model import Prediction


def micros(moment: datetime) -> int:
    return int(np.datetime64(moment, "us").astype(np.int64))


@dataclass
class Refused:
    decision_id: str
    asset: str
    bar_time: datetime
    reason: str
    detail: str


@dataclass
class Executor:
    config: KimeraConfig
    market: Market
    venues: BacktestVenues
    latency: Latency
    journal: BacktestJournal
    order_style: str = "taker"
    lot: float = 1e-5
    positions: dict[str, float] = field(default_factory=dict)  # asset -> base amount
    cash: float = 0.0
    day_start_equity: float = 0.0
    day: datetime | None = None
    refusals: list[Refused] = field(default_factory=list)
    killswitch: KillSwitch = field(default_factory=KillSwitch)

    def __post_init__(self) -> None:
        ex = self.config.execution
        self.cash = ex.sizing.capital
        self.day_start_equity = self.cash
        # per account (rate budgets: one decision per bar never meets them)
        self._risks: dict[str, PreTradeRisk] = {}
        self.pair = {a.symbol: a.pair for a in self.config.assets}
        self._seq = 0
        self._booked = 0

    def risk_of(self, book: Book) -> PreTradeRisk:
        """The pre-trade checks with the limits of ``book``'s account."""
        if book.name not in self._risks:
            self._risks[book.name] = PreTradeRisk(book.risk, {})
        return self._risks[book.name]

    # --- the book ------------------------------------------------------------------------------
    def mid(self, asset: str, t: int) -> float:
        """The median mid of the CEX books of ``asset`` at ``t`` (NaN when none is quoted)."""
        mids = []
        for spec in self.venues.specs.values():
            if spec.kind == "cex":
                book = self.market.book(spec.name, self.pair[asset], t)
                if book is not None and math.isfinite(book.mid):
                    mids.append(book.mid)
        if not mids:  # no book: the close of the newest closed candle of the candle venues
            mids = [c[0] for c in self._candles_of(asset, t)]
        return float(np.median(mids)) if mids else math.nan

    def _candles_of(self, asset: str, t: int) -> list[tuple[float, float, str]]:
        """(close, volume, venue) of the newest closed candle of each candle venue of ``asset``."""
        out = []
        for venue in sorted(self.venues.candle_venues):
            last = last_close(self.market, venue, self.pair[asset], t)
            if last is not None:
                out.append((*last, venue))
        return out

    def equity(self, t: int) -> float:
        value = self.cash
        for asset, qty in self.positions.items():
            if qty:
                price = self.mid(asset, t)
                value += qty * (price if math.isfinite(price) else 0.0)
        return value

    def apply(self, changed: list[SimOrder]) -> None:
        """Book the fills of ``changed`` orders into positions and cash, and journal them."""
        for o in changed:
            self.journal.order(o)
        asset_of = {pair: asset for asset, pair in self.pair.items()}
        for f in self.venues.fills[self._booked :]:
            sign = 1.0 if f.side == BUY else -1.0
            asset = asset_of[f.symbol]
            self.positions[asset] = self.positions.get(asset, 0.0) + sign * f.amount
            self.cash -= sign * f.price * f.amount + f.fee + f.gas
            self.journal.fill(f)
        self._booked = len(self.venues.fills)

    # --- decisions -----------------------------------------------------------------------------
    def new_day(self, bar_time: datetime, t: int) -> None:
        day = bar_time.replace(hour=0, minute=0, second=0, microsecond=0)
        if day != self.day:
            self.day, self.day_start_equity = day, self.equity(t)

    def decide(self, p: Prediction, bar_time: datetime) -> list[SimOrder]:
        """Orders for one traded prediction at bar close ``bar_time``."""
        ex = self.config.execution
        t = micros(bar_time)
        self.new_day(bar_time, t)
        ref = self.mid(p.asset, t)
        if not math.isfinite(ref):
            return self._refuse(p, bar_time, "no_book", f"no CEX book of {p.asset} at or before {bar_time}")
        try:
            book = book_for(self.config, p.asset, p.model_tag, p.horizon)
        except ValueError as exc:
            return self._refuse(p, bar_time, "no_strategy", str(exc))
        position_limit = book.risk.max_position_notional
        target = target_notional(p.forecast, p.lower, p.upper, book.sizing, position_limit) / ref
        held = self.positions.get(p.asset, 0.0)
        # as the service's desk sizes: whole lots towards the target, never past it (rounding up
        # could end a hair beyond max_position_notional, which the risk check then refuses), and no
        # parent beyond the account's per-order notional at its limit price (the next signal
        # trades the rest)
        most = book.risk.max_order_notional / self._desk_limit(p.asset, ref, buy=target > held)
        qty = round(math.floor(min(abs(target - held), most) / self.lot + 1e-9) * self.lot, 12)
        change = math.copysign(qty, target - held)
        if qty <= 0 or qty * ref < book.sizing.min_order_notional:
            return []
        daily = self.equity(t) - self.day_start_equity
        refusal = self.risk_of(book).check_parent(self.killswitch, held, change, ref, daily)
        if refusal is not None:
            return self._refuse(p, bar_time, refusal.reason, refusal.detail)
        side = Side.BUY if change > 0 else Side.SELL
        if self.order_style == "maker":
            return self._post(p, bar_time, t, side, abs(change), ref, self.risk_of(book))
        cex, pools = self._inputs(p.asset, side, t)
        candles = self._candles_of(p.asset, t) if not cex and not pools else []
        if candles:  # no book or pool, only candles: market orders on the busiest candle venue
            return self._on_candles(p, bar_time, t, side, qty, ref, max(candles, key=lambda c: c[1])[2], book)
        # sliced as the service slices a parent (execution.slicing.split: no slice beyond what one
        # venue order may be); slice k is sent twap_interval_s after slice k-1. Every slice is routed
        # on the books known at the decision (no later book is read); the fill model then matches
        # each against the book at its own arrival.
        slices = split(qty, ref, self.lot, ex.routing, book.risk.max_order_notional)
        step = int(ex.routing.twap_interval_s * 1_000_000)
        orders = []
        for k, size in enumerate(slices):
            plan = route(side, float(size), cex, pools, lot=self.lot)
            for leg in plan.legs:
                if leg.amount <= 0:
                    continue
                slip = ex.routing.slippage_bps / 1e4
                limit = leg.worst_price * (1 + slip if side is Side.BUY else 1 - slip)
                refusal = self.risk_of(book).check_child(leg.venue, leg.amount, limit, ref)
                if refusal is not None:
                    orders += self._refuse(p, bar_time, refusal.reason, refusal.detail)
                    continue
                orders.append(self._place(p, leg.venue, side, leg.amount, limit, "ioc", t + k * step, ref))
        return orders

    def _on_candles(self, p: Prediction, bar_time: datetime, t: int, side: Side, qty: float, ref: float,
                    venue: str, book: Book) -> list[SimOrder]:  # fmt: skip
        """Sliced as the book path; each slice a market order whose rest works over the next candles
        (backtest.candle_fills) until the next bar replaces it."""
        ex = self.config.execution
        step = int(ex.routing.twap_interval_s * 1_000_000)
        orders = []
        for k, size in enumerate(split(qty, ref, self.lot, ex.routing, book.risk.max_order_notional)):
            refusal = self.risk_of(book).check_child(venue, float(size), ref, ref)
            if refusal is not None:
                orders += self._refuse(p, bar_time, refusal.reason, refusal.detail)
                continue
            orders.append(self._place(p, venue, side, float(size), None, "gtc", t + k * step, ref))
        return orders

    def _desk_limit(self, asset: str, ref: float, buy: bool) -> float:
        """The parent's limit price as the desk sets it: the mark plus (buy) or less (sell) the routing
        slippage allowance, on the price grid of the symbol's first CEX venue, rounded inwards."""
        slip = self.config.execution.routing.slippage_bps / 1e4
        tick = next((s.price_increment for s in self.venues.specs.values()
                     if s.kind == "cex" and self.pair[asset] in s.symbols), Decimal("0.01"))  # fmt: skip
        price = Decimal(repr(ref * (1 + slip if buy else 1 - slip)))
        return float(price.quantize(tick, rounding=ROUND_FLOOR if buy else ROUND_CEILING))

    def _post(self, p: Prediction, bar_time: datetime, t: int, side: Side, qty: float, ref: float,
              risk: PreTradeRisk):  # fmt: skip
        best = None
        for spec in self.venues.specs.values():
            book = self.market.book(spec.name, self.pair[p.asset], t) if spec.kind == "cex" else None
            if book is None or not len(book.bids) or not len(book.asks):
                continue
            price = float(book.bids[0, 0] if side is Side.BUY else book.asks[0, 0])
            better = best is None or (price > best[1] if side is Side.BUY else price < best[1])
            if better:
                best = (spec.name, price)
        if best is None:
            return self._refuse(p, bar_time, "no_book", f"no CEX book of {p.asset} to post on")
        refusal = risk.check_child(best[0], qty, best[1], ref)
        if refusal is not None:
            return self._refuse(p, bar_time, refusal.reason, refusal.detail)
        return [self._place(p, best[0], side, qty, best[1], "gtc", t, ref)]

    def _inputs(self, asset: str, side: Side, t: int) -> tuple[list[CexInput], list[PoolInput]]:
        cex, pools = [], []
        routing = self.config.execution.routing
        for spec in self.venues.specs.values():
            if self.pair[asset] not in spec.symbols:
                continue
            if spec.kind == "cex":
                book = self.market.book(spec.name, self.pair[asset], t)
                if book is not None:
                    levels = book.asks if side is Side.BUY else book.bids
                    if len(levels):
                        cex.append(CexInput(spec.name, levels, spec.fee))
            else:
                pool = self.venues.pools[spec.name]
                state = self.market.reserves_at(pool.address, t)
                fee = self.market.base_fee_gwei(t)
                if state is None or fee is None:
                    continue
                _, r0, r1 = state
                base, quote = (r0, r1) if pool.base_is_token0 else (r1, r0)
                gas = self.venues.swap_gas_units * fee[1] * 1e-9 * self.venues._gas_asset_price(t)
                pools.append(PoolInput(spec.name, base, quote, spec.fee, gas, routing.max_pool_fraction))
        return cex, pools

    def _place(self, p: Prediction, venue: str, side: Side, qty: float, limit: float | None, tif: str, t: int,
               ref: float) -> SimOrder:  # fmt: skip
        self._seq += 1
        spec = self.venues.specs[venue]
        order = SimOrder(
            order_id=f"bt-{self._seq:07d}",
            decision_id=p.prediction_id,
            venue=venue,
            symbol=self.pair[p.asset],
            side=BUY if side is Side.BUY else SELL,
            amount=qty,
            limit=limit,
            tif=tif,
            decided_at=t,
            arrive_at=t + self.latency.sample_us(spec.latency_s),
            arrival_price=ref,
        )
        self.venues.place(order)
        self.journal.order(order)
        return order

    def _refuse(self, p: Prediction, bar_time: datetime, reason: str, detail: str) -> list[SimOrder]:
        self.refusals.append(Refused(p.prediction_id, p.asset, bar_time, reason, detail))
        self.journal.write("refusal", {"decision_id": p.prediction_id, "reason": reason, "detail": detail})
        return []
