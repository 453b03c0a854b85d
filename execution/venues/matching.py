"""The paper matching engine: fills orders against a :class:`BookSource` with latency, partial fills and fees.

Pure and deterministic: every method takes the venue clock ``now`` (epoch seconds of market time),
and the same requests at the same times on the same seed give the same fills. An order reaches
the matching engine ``latency`` after it is placed (with a seeded jitter) and is matched against
the book of that moment; liquidity we take is gone for the rest of that book's interval. A pool
swap is all-or-nothing against the order's price bound and pays gas in the quote currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Literal

from execution.venues.base import (
    MarketRules,
    OrderBook,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    PoolState,
    RateLimited,
    Side,
    TimeInForce,
    VenueFill,
    VenueOrder,
    VenueStatus,
)
from execution.venues.books import BookSource, _seed

FEE_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True)
class PaperVenueSpec:
    """One paper venue (a CEX book or an AMM pool) and the rules it publishes."""

    name: str
    kind: Literal["cex", "amm"] = "cex"
    symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")
    fee: float = 0.001
    latency_s: float = 0.02
    rate_limit_per_s: float = 10.0
    price_increment: Decimal = Decimal("0.01")
    amount_increment: Decimal = Decimal("0.00001")
    min_amount: Decimal = Decimal("0.00001")
    gas_quote: float = 0.0
    pools: dict[str, str] = field(default_factory=dict)  # amm: symbol -> pool id in the book source
    depth: int = 50
    book_source_name: str | None = None  # the simulator's venue id, when it differs from name

    def rules(self, symbol: str) -> MarketRules:
        return MarketRules(
            symbol=symbol,
            price_increment=self.price_increment,
            amount_increment=self.amount_increment,
            min_amount=self.min_amount,
            taker_fee=Decimal(str(self.fee)),
            rate_limit_per_s=self.rate_limit_per_s,
            gas_quote=Decimal(str(self.gas_quote)),
        )


@dataclass
class _PaperOrder:
    request: OrderRequest
    venue_order_id: str
    placed_at: float
    arrive_at: float
    status: VenueStatus = VenueStatus.OPEN
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    reason: str | None = None
    matched_once: bool = False

    def view(self) -> VenueOrder:
        avg = (self.cost / self.filled) if self.filled else None
        r = self.request
        return VenueOrder(
            client_order_id=r.client_order_id,
            venue_order_id=self.venue_order_id,
            symbol=r.symbol,
            side=r.side,
            amount=r.amount,
            filled=self.filled,
            status=self.status,
            average_price=avg,
            fee=self.fee,
            reason=self.reason,
            timestamp=self.placed_at,
        )


class _PaperVenue:
    def __init__(
        self, spec: PaperVenueSpec, market: BookSource, seed: int, replenish_s: float, session: str = ""
    ):
        self.spec = spec
        # ids carry the server's session so a restarted server (its state is in memory) never
        # hands out an order or fill id that a client's journal already holds from the last one
        self.prefix = f"{spec.name}-{session}" if session else spec.name
        self.market = market
        self.seed = seed
        self.replenish_s = replenish_s
        self.orders: dict[str, _PaperOrder] = {}
        self.pending: list[_PaperOrder] = []  # placed, not yet at the matching engine, or resting
        self.fills: list[VenueFill] = []
        self.updates: list[VenueOrder | VenueFill] = []  # the user-data stream: reports and fills in order
        self.recent_places: list[float] = []
        self.consumed: dict[tuple, float] = {}
        self.consumed_bucket: float = -1.0
        self.next_id = 1

    # --- queries --------------------------------------------------------------------------------
    def _source_name(self) -> str:
        return self.spec.book_source_name or self.spec.name

    def book(self, symbol: str, t: float, depth: int) -> OrderBook:
        bids, asks = self.market.order_book(self._source_name(), symbol, t, depth)
        return OrderBook(self.spec.name, symbol, bids, asks, t)

    def pool(self, symbol: str, t: float) -> PoolState:
        base, quote = self.market.pool_state(self.spec.pools[symbol], t)
        net_base, net_quote = self.consumed.get(("pool", symbol), (0.0, 0.0))
        return PoolState(
            self.spec.name, symbol, base - net_base, quote + net_quote, self.spec.fee, self.spec.gas_quote, t
        )

    # --- orders ---------------------------------------------------------------------------------
    def place(self, request: OrderRequest, now: float) -> tuple[VenueOrder, bool]:
        """The order (new, or the existing one with this client order id) and whether it already existed."""
        existing = self.orders.get(request.client_order_id)
        if existing is not None:
            return existing.view(), True
        self._check(request, now)
        jitter = (_seed(self.seed, self.spec.name, request.client_order_id) % 1000) / 1000.0
        order = _PaperOrder(
            request=request,
            venue_order_id=f"{self.prefix}-{self.next_id}",
            placed_at=now,
            arrive_at=now + self.spec.latency_s * (0.8 + 0.4 * jitter),
        )
        self.next_id += 1
        self.orders[request.client_order_id] = order
        self.pending.append(order)
        self.updates.append(order.view())
        return order.view(), False

    def _check(self, request: OrderRequest, now: float) -> None:
        window = [t for t in self.recent_places if t > now - 1.0]
        if len(window) >= self.spec.rate_limit_per_s:
            self.recent_places = window
            raise RateLimited(retry_after=max(0.001, window[0] + 1.0 - now), detail="order rate limit")
        window.append(now)
        self.recent_places = window
        if request.symbol not in self.spec.symbols:
            raise OrderRejected(f"unknown symbol {request.symbol!r}; traded: {list(self.spec.symbols)}")
        if request.amount < self.spec.min_amount:
            raise OrderRejected(f"amount {request.amount} below the minimum {self.spec.min_amount}")
        if request.amount % self.spec.amount_increment != 0:
            raise OrderRejected(f"amount {request.amount} is not a multiple of {self.spec.amount_increment}")
        if request.limit_price is not None and request.limit_price % self.spec.price_increment != 0:
            raise OrderRejected(
                f"limit price {request.limit_price} is not a multiple of {self.spec.price_increment}"
            )

    def cancel(self, client_order_id: str, now: float) -> VenueOrder:
        self.advance(now)
        order = self.orders.get(client_order_id)
        if order is None:
            raise OrderNotFound(client_order_id)
        if order.status is VenueStatus.OPEN:
            order.status = VenueStatus.CANCELED
            order.reason = "cancelled by request"
            if order in self.pending:
                self.pending.remove(order)
            self.updates.append(order.view())
        return order.view()

    def fetch(self, client_order_id: str, now: float) -> VenueOrder:
        self.advance(now)
        order = self.orders.get(client_order_id)
        if order is None:
            raise OrderNotFound(client_order_id)
        return order.view()

    def open_orders(self, now: float) -> list[VenueOrder]:
        self.advance(now)
        return [o.view() for o in self.orders.values() if o.status is VenueStatus.OPEN]

    def updates_after(self, seq: int, now: float, limit: int = 2000) -> list[VenueOrder | VenueFill]:
        self.advance(now)
        return self.updates[seq : seq + limit]

    # --- matching -------------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Match every order that has reached the engine by ``now``, in arrival order."""
        if not self.pending:
            return
        due = sorted((o for o in self.pending if o.arrive_at <= now), key=lambda o: o.arrive_at)
        for order in due:
            t = order.arrive_at if not order.matched_once else now
            bucket = math.floor(t / self.replenish_s)
            if bucket != self.consumed_bucket:  # a new book interval: the liquidity we took is back
                self.consumed = {k: v for k, v in self.consumed.items() if k[0] == "pool"}
                self.consumed_bucket = bucket
            if self.spec.kind == "amm":
                self._swap(order, t)
            else:
                self._match(order, t)
            order.matched_once = True
            if order.status is not VenueStatus.OPEN:
                self.pending.remove(order)
                self.updates.append(order.view())

    def _match(self, order: _PaperOrder, t: float) -> None:
        r = order.request
        bids, asks = self.market.order_book(self._source_name(), r.symbol, t, self.spec.depth)
        levels = asks if r.side is Side.BUY else bids
        remaining = r.amount - order.filled
        limit = float(r.limit_price) if r.limit_price is not None else None
        for price, amount in levels:
            if remaining <= 0:
                break
            if limit is not None and (price > limit if r.side is Side.BUY else price < limit):
                break
            key = (r.symbol, r.side.value, round(float(price), 10))
            available = float(amount) - self.consumed.get(key, 0.0)
            take = min(Decimal(repr(max(available, 0.0))), remaining).quantize(
                self.spec.amount_increment, rounding=ROUND_DOWN
            )
            if take <= 0:
                continue
            px = Decimal(repr(float(price))).quantize(self.spec.price_increment, rounding=ROUND_HALF_EVEN)
            self.consumed[key] = self.consumed.get(key, 0.0) + float(take)
            self._fill(order, px, take, (px * take * Decimal(str(self.spec.fee))).quantize(FEE_QUANTUM), t)
            remaining -= take
        if order.filled >= r.amount:
            order.status = VenueStatus.CLOSED
        elif r.time_in_force is TimeInForce.IOC:
            order.status = VenueStatus.CANCELED
            order.reason = "IOC remainder cancelled" if order.filled else "IOC: no liquidity within the limit"

    def _swap(self, order: _PaperOrder, t: float) -> None:
        r = order.request
        state = self.pool(r.symbol, t)
        y, x, f = state.base_reserve, state.quote_reserve, state.fee
        q = float(r.amount)
        if r.side is Side.BUY:
            quote = x * q / ((y - q) * (1 - f)) if q < y else math.inf
        else:
            quote = x * (1 - f) * q / (y + (1 - f) * q)
        avg = quote / q
        if r.limit_price is not None and (
            avg > float(r.limit_price) if r.side is Side.BUY else avg < float(r.limit_price)
        ):
            order.status = VenueStatus.CANCELED
            order.reason = f"swap would trade at {avg:.6f}, beyond the bound {r.limit_price}"
            return
        net_base, net_quote = self.consumed.get(("pool", r.symbol), (0.0, 0.0))
        sign = 1.0 if r.side is Side.BUY else -1.0
        self.consumed[("pool", r.symbol)] = (net_base + sign * q, net_quote + sign * quote)
        px = Decimal(repr(avg)).quantize(self.spec.price_increment, rounding=ROUND_HALF_EVEN)
        self._fill(order, px, r.amount, Decimal(str(self.spec.gas_quote)).quantize(FEE_QUANTUM), t)
        order.status = VenueStatus.CLOSED

    def _fill(self, order: _PaperOrder, price: Decimal, amount: Decimal, fee: Decimal, t: float) -> None:
        r = order.request
        order.filled += amount
        order.cost += price * amount
        order.fee += fee
        self.fills.append(
            fill := VenueFill(
                venue=self.spec.name,
                fill_id=f"{self.prefix}-f{len(self.fills) + 1}",
                client_order_id=r.client_order_id,
                symbol=r.symbol,
                side=r.side,
                price=price,
                amount=amount,
                fee=fee,
                timestamp=t,
            )
        )
        self.updates.append(fill)


class PaperExchange:
    """Every paper venue of one process, keyed by name."""

    def __init__(
        self,
        market: BookSource,
        specs: list[PaperVenueSpec],
        seed: int = 7,
        replenish_s: float = 1.0,
        session: str = "",
    ):
        self.market = market
        self.seed = seed
        self.session = session  # the server passes a fresh one per start; "" in-process (tests)
        self.venues = {s.name: _PaperVenue(s, market, seed, replenish_s, session) for s in specs}

    def venue(self, name: str) -> _PaperVenue:
        try:
            return self.venues[name]
        except KeyError:
            raise OrderRejected(f"unknown venue {name!r}; paper venues: {sorted(self.venues)}") from None
