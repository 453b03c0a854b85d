"""The one interface every venue speaks: paper (here), ccxt and Uniswap (issue #8).

A venue is async and identifies every order by the client order id we chose (a ULID), so the
order manager can always ask "what happened to order X?" after a timeout or a crash. Money is
``Decimal`` here; books and pools are float arrays because only the router reads them.

Errors a venue raises say what the order manager may conclude:

- :class:`OrderRejected`: the venue refused the order; it never became live.
- :class:`RateLimited`: refused before processing; retry after ``retry_after`` seconds.
- :class:`VenueUnavailable`: the request surely did not reach the matching engine (connect error).
- :class:`VenueTimeout`: the answer was lost; the order may or may not exist (state ``unknown``).
- :class:`OrderNotFound`: the venue has no order with that client order id.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import numpy as np


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class TimeInForce(StrEnum):
    GTC = "GTC"  # rests on the book until filled or cancelled
    IOC = "IOC"  # fills what it can on arrival, the rest is cancelled


class VenueStatus(StrEnum):
    """An order's status as a venue reports it (ccxt's unified order statuses)."""

    OPEN = "open"
    CLOSED = "closed"  # fully filled
    CANCELED = "canceled"  # cancelled or expired (IOC remainder), possibly after partial fills
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class MarketRules:
    """What a venue accepts for one symbol: increments, minimum, fee, published rate limit."""

    symbol: str
    price_increment: Decimal
    amount_increment: Decimal
    min_amount: Decimal
    taker_fee: Decimal  # fraction of notional, e.g. 0.001
    rate_limit_per_s: float  # the venue's published order-rate limit
    gas_quote: Decimal = Decimal(0)  # AMM only: gas per swap, in the quote currency


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: Side
    amount: Decimal
    limit_price: Decimal | None = None  # worst acceptable price (AMM: min-out / max-in bound)
    time_in_force: TimeInForce = TimeInForce.IOC
    expires_at: float | None = None  # epoch s; a venue refuses the request after it (Binance's recvWindow)


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """A venue's view of one order."""

    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    amount: Decimal
    filled: Decimal
    status: VenueStatus
    average_price: Decimal | None = None
    fee: Decimal = Decimal(0)
    reason: str | None = None
    timestamp: float = 0.0


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution; ``fill_id`` is unique per venue, so duplicates can be dropped."""

    venue: str
    fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal  # in the quote currency
    timestamp: float


@dataclass(slots=True)
class VenueUpdates:
    """Order reports and fills since a cursor, in the venue's order (which faults may shuffle)."""

    orders: list[VenueOrder]
    fills: list[VenueFill]
    cursor: str | None


@dataclass(slots=True)
class OrderBook:
    """Levels as float arrays of shape (n, 2): [price, amount]; bids descending, asks ascending."""

    venue: str
    symbol: str
    bids: np.ndarray
    asks: np.ndarray
    timestamp: float

    @property
    def mid(self) -> float | None:
        if len(self.bids) == 0 or len(self.asks) == 0:
            return None
        return float(self.bids[0, 0] + self.asks[0, 0]) / 2.0


@dataclass(slots=True)
class PoolState:
    """A constant-product pool seen from the asset: reserves of base and quote, fee, gas per swap."""

    venue: str
    symbol: str
    base_reserve: float
    quote_reserve: float
    fee: float
    gas_quote: float
    timestamp: float
    # a V3 pool's tick ranges (execution.amm.concentrated.ConcentratedPoolInput); the reserves are
    # then the in-range virtual ones, and the router prices the pool from this instead
    concentrated: Any = None

    @property
    def mid(self) -> float:
        return self.quote_reserve / self.base_reserve


# --- errors -------------------------------------------------------------------------------------
class VenueError(Exception):
    """Base of every error a venue raises."""


class OrderRejected(VenueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class RateLimited(VenueError):
    def __init__(self, retry_after: float, detail: str = "rate limited"):
        super().__init__(f"{detail}; retry after {retry_after:.3f} s")
        self.retry_after = retry_after


class VenueUnavailable(VenueError):
    """The request did not reach the venue (connection refused, 503 before processing)."""


class VenueTimeout(VenueError):
    """No answer came back: the request may or may not have been processed."""


class OrderNotFound(VenueError):
    """The venue has no order with this client order id."""


# --- the interface ----------------------------------------------------------------------------------
class Venue(ABC):
    """A place to trade. ``kind`` says whether it has an order book (cex) or is a pool (amm).

    Promises every implementation keeps:

    - ``place_order`` is idempotent by ``client_order_id``: placing an id the venue already has
      returns that order instead of creating a second one.
    - ``fetch_order`` finds any order placed in the venue's retention window by client order id.
    - ``fetch_updates`` returns order reports and fills after ``cursor`` (an opaque string) and the
      next cursor (a user-data stream, polled); a fill may come twice or out of order, and callers
      drop duplicates by ``fill_id``.
    - a request whose ``expires_at`` has passed when it reaches the venue is refused, so an order
      not found after it expired will never appear.
    """

    name: str
    kind: Literal["cex", "amm"] = "cex"

    @abstractmethod
    async def markets(self) -> dict[str, MarketRules]: ...

    async def order_book(self, symbol: str, depth: int) -> OrderBook:
        raise VenueError(f"{self.name} has no order book")

    async def pool(self, symbol: str) -> PoolState:
        raise VenueError(f"{self.name} is not a pool")

    @abstractmethod
    async def place_order(self, request: OrderRequest) -> VenueOrder: ...

    @abstractmethod
    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder: ...

    @abstractmethod
    async def fetch_order(self, symbol: str, client_order_id: str) -> VenueOrder: ...

    @abstractmethod
    async def fetch_updates(self, cursor: str | None) -> VenueUpdates: ...

    @abstractmethod
    async def open_orders(self) -> list[VenueOrder]: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


@dataclass
class VenueSet:
    """The venues the service trades on, by name."""

    venues: dict[str, Venue] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Venue:
        return self.venues[name]

    def __iter__(self):
        return iter(self.venues.values())

    def names(self) -> list[str]:
        return list(self.venues)
