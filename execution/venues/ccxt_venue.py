"""A live exchange through ccxt (asyncio): orders, cancels, status by client order id, fills, balances.

What the order manager may conclude from each failure is decided here, from ccxt's error classes:

=====================================================  ==========================================
ccxt raises                                            the venue raises
=====================================================  ==========================================
``DDoSProtection`` / ``RateLimitExceeded`` (429, 418)  :class:`RateLimited` (``Retry-After`` read
                                                       from the response headers; ccxt ignores it)
``InvalidNonce`` (Binance -1021: outside recvWindow)   :class:`VenueUnavailable` (refused unprocessed)
connection refused (``ExchangeNotAvailable`` from a    :class:`VenueUnavailable`
connect error)
``RequestTimeout``, other ``NetworkError``,            on a write: :class:`VenueTimeout` (the order
``BadResponse`` (5xx, dropped or garbled answers)      may exist: *unknown*); on a read:
                                                       :class:`VenueUnavailable`
``OrderNotFound``                                      :class:`OrderNotFound`
``InvalidOrder`` "Duplicate order"                     the order we already placed (``fetch_order``)
``InvalidOrder``, ``InsufficientFunds``, ``BadRequest``, :class:`OrderRejected` (never live)
``AuthenticationError``, other ``ExchangeError``
=====================================================  ==========================================

Precision, minimums and the taker fee come from the exchange's markets; the venue rounds amounts
and prices to them and refuses locally what the exchange would refuse. On Binance-style exchanges
each order carries ``recvWindow`` so the exchange itself refuses a request that arrives after the
order's ``expires_at`` (what lets the order manager resend safely). The sandbox is used unless
the config says ``sandbox: false``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

import aiohttp
import ccxt
import numpy as np
from pydantic import SecretStr

from connect.ccxt import build_trading_exchange, retry_after
from execution import redact
from execution.venues.base import (
    MarketRules,
    OrderBook,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    RateLimited,
    Side,
    Venue,
    VenueError,
    VenueFill,
    VenueOrder,
    VenueStatus,
    VenueTimeout,
    VenueUnavailable,
    VenueUpdates,
)
from kimera.config import CcxtTradingVenue, ConfigError

log = logging.getLogger("kimera.execution.ccxt")
logging.getLogger("ccxt").setLevel(logging.INFO)  # ccxt's DEBUG lines carry request headers (the API key)

_STATUS = {"open": VenueStatus.OPEN, "closed": VenueStatus.CLOSED, "canceled": VenueStatus.CANCELED,
           "cancelled": VenueStatus.CANCELED, "expired": VenueStatus.CANCELED, "rejected": VenueStatus.REJECTED}  # fmt: skip
_BINANCE_DEPTHS = (5, 10, 20, 50, 100, 500, 1000, 5000)


def _increment(value: Any, mode: int) -> Decimal:
    """A market's precision as an increment, whatever ccxt's precision mode."""
    if value is None:
        return Decimal("1e-8")
    if mode == ccxt.TICK_SIZE:
        return Decimal(str(value))
    return Decimal(1).scaleb(-int(value))


def _dec(value: Any, default: str = "0") -> Decimal:
    return Decimal(default) if value is None else Decimal(str(value))


class CcxtVenue(Venue):
    """One account on one exchange. ``symbols`` maps the service's symbols to the exchange's."""

    kind = "cex"

    def __init__(self, ref: CcxtTradingVenue, symbols: dict[str, str], credentials: Mapping[str, SecretStr]):
        self.name, self.ref = ref.name, ref
        redact.register(*(v.get_secret_value() for v in credentials.values()))
        self.exchange = build_trading_exchange(ref, credentials)
        self.symbols = dict(symbols)  # ours -> the exchange's
        self.ours = {v: k for k, v in self.symbols.items()}
        self.rules: dict[str, MarketRules] = {}
        self._min_cost: dict[str, Decimal] = {}
        self._cid_by_order_id: dict[str, str] = {}
        self._started_ms = int(time.time() * 1000)
        self._fee_prices: dict[str, tuple[Decimal, float]] = {}
        self._binance = ref.exchange.startswith("binance")

    def __repr__(self) -> str:  # never the exchange object: it holds the keys
        return f"CcxtVenue(name={self.name!r}, exchange={self.ref.exchange!r}, sandbox={self.ref.sandbox})"

    # --- errors ----------------------------------------------------------------------------------
    def _retry_after(self) -> float:
        seconds = retry_after(self.exchange)
        return 1.0 if seconds is None else seconds

    def _map(self, exc: Exception, write: bool) -> VenueError:
        text = f"{self.name}: {type(exc).__name__}: {redact.redact(str(exc))[:300]}"
        if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return RateLimited(self._retry_after(), text)
        if isinstance(exc, ccxt.InvalidNonce):
            return VenueUnavailable(text)  # refused for its timestamp: not processed
        if isinstance(exc, ccxt.ExchangeNotAvailable) and isinstance(
            exc.__cause__, aiohttp.ClientConnectorError
        ):
            return VenueUnavailable(text)  # the connection was refused: nothing was sent
        if isinstance(exc, ccxt.OrderNotFound):
            return OrderNotFound(text)
        if isinstance(exc, ccxt.OperationFailed):  # timeouts, 5xx, dropped or garbled answers
            return VenueTimeout(text) if write else VenueUnavailable(text)
        if isinstance(exc, ccxt.BaseError):
            return OrderRejected(text) if write else VenueUnavailable(text)
        return VenueTimeout(text) if write else VenueUnavailable(text)

    async def _call(self, write: bool, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self.exchange, method)(*args, **kwargs)
        except (ccxt.BaseError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._map(exc, write) from None

    # --- markets ---------------------------------------------------------------------------------
    async def markets(self) -> dict[str, MarketRules]:
        await self._call(False, "load_markets")
        ex = self.exchange
        rules = {}
        missing = [ours for ours, theirs in self.symbols.items() if theirs not in ex.markets]
        if missing:
            raise ConfigError(
                f"execution.venues: {self.name} ({self.ref.exchange}) does not list "
                f"{', '.join(self.symbols[m] for m in missing)}; map the asset in the venue's symbols: "
                "{ASSET: SYMBOL}"
            )
        for ours, theirs in self.symbols.items():
            m = ex.markets[theirs]
            amount_inc = _increment(m["precision"].get("amount"), ex.precisionMode)
            limits = m.get("limits") or {}
            rules[ours] = MarketRules(
                symbol=ours,
                price_increment=_increment(m["precision"].get("price"), ex.precisionMode),
                amount_increment=amount_inc,
                min_amount=_dec((limits.get("amount") or {}).get("min"), str(amount_inc)),
                taker_fee=_dec(m.get("taker"), "0.001"),
                rate_limit_per_s=self.ref.rate_limit_per_s or 1000.0 / max(float(ex.rateLimit), 1.0),
            )
            self._min_cost[ours] = _dec((limits.get("cost") or {}).get("min"))
        self.rules = rules
        return rules

    async def order_book(self, symbol: str, depth: int) -> OrderBook:
        if self._binance:
            depth = next((d for d in _BINANCE_DEPTHS if d >= depth), _BINANCE_DEPTHS[-1])
        book = await self._call(False, "fetch_order_book", self.symbols[symbol], depth)
        bids = np.asarray([lvl[:2] for lvl in book["bids"]], dtype=float).reshape(-1, 2)
        asks = np.asarray([lvl[:2] for lvl in book["asks"]], dtype=float).reshape(-1, 2)
        stamp = book.get("timestamp")
        return OrderBook(self.name, symbol, bids, asks, stamp / 1000.0 if stamp else time.time())

    # --- orders ----------------------------------------------------------------------------------
    def _check(self, request: OrderRequest) -> tuple[str, str]:
        """Amount and price in the exchange's precision; refuses what the exchange would refuse."""
        rules = self.rules.get(request.symbol)
        if rules is None:
            raise OrderRejected(f"{self.name} does not trade {request.symbol}")
        if request.limit_price is None:
            raise OrderRejected(f"{self.name}: orders need a limit price (marketable limit orders only)")
        amount = request.amount.quantize(rules.amount_increment, rounding=ROUND_DOWN)
        if amount < rules.min_amount or amount <= 0:
            raise OrderRejected(
                f"{self.name}: amount {request.amount} is below the minimum {rules.min_amount}"
            )
        min_cost = self._min_cost.get(request.symbol, Decimal(0))
        if amount * request.limit_price < min_cost:
            raise OrderRejected(
                f"{self.name}: notional {amount * request.limit_price} is below the minimum {min_cost}"
            )
        theirs = self.symbols[request.symbol]
        try:
            return (
                self.exchange.amount_to_precision(theirs, str(amount)),
                self.exchange.price_to_precision(theirs, str(request.limit_price)),
            )
        except ccxt.BaseError as exc:
            raise OrderRejected(f"{self.name}: {exc}") from None

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        amount, price = self._check(request)
        params: dict[str, Any] = {
            "clientOrderId": request.client_order_id,
            "timeInForce": request.time_in_force.value,
        }
        if request.expires_at is not None:
            left_ms = int((request.expires_at - time.time()) * 1000)
            if left_ms <= 0:
                raise VenueUnavailable(f"{self.name}: the request expired before it was sent")
            if self._binance:  # the exchange refuses it, unprocessed, once it is older than this
                params["recvWindow"] = min(left_ms, int(self.ref.recv_window_s * 1000))
        try:
            order = await self._call(True, "create_order", self.symbols[request.symbol], "limit",
                                     request.side.value, amount, price, params)  # fmt: skip
        except OrderRejected as exc:
            if "duplicate" not in str(exc).lower():
                raise
            return await self.fetch_order(request.symbol, request.client_order_id)
        return self._order(order, request.symbol, request.client_order_id)

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        params = {"clientOrderId": client_order_id, "origClientOrderId": client_order_id}
        try:
            order = await self._call(True, "cancel_order", None, self.symbols[symbol], params)
        except OrderRejected as exc:  # e.g. already done: the venue says what it is now
            log.info("%s: cancel of %s refused (%s); reading its state", self.name, client_order_id, exc)
            return await self.fetch_order(symbol, client_order_id)
        return self._order(order, symbol, client_order_id)

    async def fetch_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        params = {"clientOrderId": client_order_id, "origClientOrderId": client_order_id}
        order = await self._call(False, "fetch_order", None, self.symbols[symbol], params)
        return self._order(order, symbol, client_order_id)

    async def open_orders(self) -> list[VenueOrder]:
        out = []
        for ours, theirs in self.symbols.items():
            for order in await self._call(False, "fetch_open_orders", theirs):
                out.append(self._order(order, ours, order.get("clientOrderId")))
        return out

    def _order(self, o: dict[str, Any], symbol: str, client_order_id: str | None) -> VenueOrder:
        cid = o.get("clientOrderId") or client_order_id or ""
        if o.get("id"):
            self._cid_by_order_id[str(o["id"])] = cid
        status = _STATUS.get(str(o.get("status")).lower(), VenueStatus.OPEN)
        fee = sum((self._fee_in_quote(f, symbol, o.get("average") or o.get("price")) for f in o.get("fees") or []),
                  Decimal(0))  # fmt: skip
        return VenueOrder(
            client_order_id=cid,
            venue_order_id=str(o.get("id") or ""),
            symbol=symbol,
            side=Side(o.get("side") or "buy"),
            amount=_dec(o.get("amount")),
            filled=_dec(o.get("filled")),
            status=status,
            average_price=None if o.get("average") is None else _dec(o["average"]),
            fee=fee,
            reason=None if status is not VenueStatus.REJECTED else "rejected by the exchange",
            timestamp=(o.get("timestamp") or time.time() * 1000) / 1000.0,
        )

    # --- fills -----------------------------------------------------------------------------------
    def _fee_in_quote(self, fee: dict[str, Any] | None, symbol: str, price: Any) -> Decimal:
        """A fee in the symbol's quote currency (base fees at the trade price, others at the last price)."""
        if not fee or fee.get("cost") is None:
            return Decimal(0)
        cost, currency = _dec(fee["cost"]), fee.get("currency")
        market = self.exchange.markets.get(self.symbols[symbol], {})
        if currency in (None, market.get("quote")):
            return cost
        if currency == market.get("base") and price is not None:
            return cost * _dec(price)
        cached = self._fee_prices.get(currency)
        if cached is not None and time.time() - cached[1] < 60:
            return cost * cached[0]
        log.warning("%s: fee in %s converted at the last cached price", self.name, currency)
        return cost * (cached[0] if cached else Decimal(0))

    async def _fee_price(self, currency: str, quote: str) -> None:
        pair = f"{currency}/{quote}"
        if pair in self.exchange.markets and (
            currency not in self._fee_prices or time.time() - self._fee_prices[currency][1] > 60
        ):
            ticker = await self._call(False, "fetch_ticker", pair)
            if ticker.get("last") is not None:
                self._fee_prices[currency] = (_dec(ticker["last"]), time.time())

    async def _client_order_id(self, order_id: str, theirs: str) -> str:
        cid = self._cid_by_order_id.get(order_id)
        if cid is None:  # a fill of an order placed before a restart: ask the exchange whose it is
            order = await self._call(False, "fetch_order", order_id, theirs)
            cid = order.get("clientOrderId") or f"venue:{order_id}"
            self._cid_by_order_id[order_id] = cid
        return cid

    async def fetch_updates(self, cursor: str | None) -> VenueUpdates:
        """Our trades since ``cursor`` (per symbol: the last trade id seen), as fills."""
        state: dict[str, dict[str, Any]] = json.loads(cursor) if cursor else {}
        fills: list[VenueFill] = []
        for ours, theirs in self.symbols.items():
            seen = state.get(ours, {})
            params: dict[str, Any] = {}
            since = None
            if self._binance and "id" in seen:
                params["fromId"] = int(seen["id"]) + 1
            else:
                since = int(seen.get("ms", self._started_ms - self.ref.updates_lookback_s * 1000))
            trades = await self._call(False, "fetch_my_trades", theirs, since, None, params)
            market = self.exchange.markets.get(theirs, {})
            for t in trades:
                fees = t.get("fees") or [t.get("fee")]
                for f in fees:
                    if f and f.get("currency") not in (None, market.get("base"), market.get("quote")):
                        await self._fee_price(f["currency"], market.get("quote"))
                fills.append(VenueFill(
                    venue=self.name, fill_id=str(t["id"]),
                    client_order_id=await self._client_order_id(str(t["order"]), theirs),
                    symbol=ours, side=Side(t["side"]), price=_dec(t["price"]), amount=_dec(t["amount"]),
                    fee=sum((self._fee_in_quote(f, ours, t["price"]) for f in fees), Decimal(0)),
                    timestamp=t["timestamp"] / 1000.0,
                ))  # fmt: skip
                seen = {**seen, "ms": max(int(seen.get("ms", 0)), int(t["timestamp"]))}
                if str(t["id"]).isdigit():
                    seen["id"] = max(int(seen.get("id", -1)), int(t["id"]))
            if seen:
                state[ours] = seen
        return VenueUpdates([], fills, json.dumps(state, sort_keys=True) if state else cursor)

    async def balances(self) -> dict[str, dict[str, Decimal]]:
        """Every currency with a balance: free, used (in open orders) and total."""
        raw = await self._call(False, "fetch_balance")
        out = {}
        for currency, total in (raw.get("total") or {}).items():
            if total:
                out[currency] = {"free": _dec(raw["free"].get(currency)), "used": _dec(raw["used"].get(currency)),
                                 "total": _dec(total)}  # fmt: skip
        return out

    async def close(self) -> None:
        await asyncio.shield(self.exchange.close())
