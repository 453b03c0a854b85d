"""Binance spot trading endpoints for the local test exchange, as the real ccxt client uses them.

``BinanceOrders(server).attach()`` adds to an :class:`~marketsim.exchange_server.ExchangeServer`:
``POST/DELETE/GET /api/v3/order``, ``GET /api/v3/openOrders``, ``GET /api/v3/myTrades`` and
``GET /api/v3/account`` on the live host, and every route (public ones included) on the sandbox
host ``testnet.binance.vision`` too. Requests are checked like Binance checks them: the
``X-MBX-APIKEY`` header, the HMAC-SHA256 ``signature`` over the query string and body, and the
``timestamp`` against ``recvWindow`` (a request that arrives too late is refused, unprocessed).

Orders match against the market's live book (levels we take stay taken for ``replenish_s``),
pay 0.1 % commission (in the base asset on buys, in the quote asset on sells, as Binance does
without BNB), and move the account's balances. ``lose_answers(n)`` processes the next ``n`` order
requests and then holds the answer back longer than any client waits (an answer lost on the way).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from urllib.parse import parse_qsl

from aiohttp import web

from marketsim.exchange_server import ExchangeServer, json_response
from marketsim.exchange_server.binance import REST

SANDBOX = "testnet.binance.vision"
TICK = Decimal("0.01")
STEP = Decimal("0.00001")
MIN_NOTIONAL = Decimal(5)
COMMISSION = Decimal("0.001")


def _err(code: int, msg: str, status: int = 400) -> web.Response:
    return json_response({"code": code, "msg": msg}, status=status)


def _s(x: Decimal) -> str:
    return f"{x:.8f}"


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str  # Binance id, BTCUSDT
    side: str  # BUY / SELL
    type: str
    time_in_force: str
    price: Decimal
    quantity: Decimal
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    status: str = "NEW"
    time_ms: int = 0
    fills: list[dict] = field(default_factory=list)

    def payload(self) -> dict:
        return {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": -1,
            "clientOrderId": self.client_order_id, "price": _s(self.price), "origQty": _s(self.quantity),
            "executedQty": _s(self.executed), "cummulativeQuoteQty": _s(self.quote), "status": self.status,
            "timeInForce": self.time_in_force, "type": self.type, "side": self.side, "stopPrice": "0.00000000",
            "icebergQty": "0.00000000", "time": self.time_ms, "updateTime": self.time_ms, "isWorking": True,
            "workingTime": self.time_ms, "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER",
        }  # fmt: skip


@dataclass
class Account:
    api_key: str
    secret: str
    balances: dict[str, Decimal] = field(default_factory=dict)  # free
    locked: dict[str, Decimal] = field(default_factory=dict)


class BinanceOrders:
    """The trading side of the test exchange for one account."""

    def __init__(self, server: ExchangeServer, api_key: str, secret: str, balances: dict[str, float] | None = None,
                 replenish_s: float = 2.0):  # fmt: skip
        self.server = server
        self.market = server.market
        self.account = Account(api_key, secret, {k: Decimal(str(v)) for k, v in (balances or {}).items()})
        self.orders: dict[int, Order] = {}
        self.trades: list[dict] = []
        self.replenish_s = replenish_s
        self._taken: dict[tuple[str, str, float], tuple[Decimal, float]] = {}
        self._ids = itertools.count(1000)
        self._trade_ids = itertools.count(50_000)
        self._lose = 0
        self._lose_seconds = 30.0
        self._lock = threading.Lock()
        self.placed = 0  # orders the matching engine accepted (a duplicate would count twice)
        self.refused_late = 0  # requests refused because they arrived after their recvWindow

    # --- set-up ----------------------------------------------------------------------------------
    def attach(self) -> BinanceOrders:
        routes = [
            ("POST", "/api/v3/order", self.place),
            ("DELETE", "/api/v3/order", self.cancel),
            ("GET", "/api/v3/order", self.query),
            ("GET", "/api/v3/openOrders", self.open_orders),
            ("GET", "/api/v3/myTrades", self.my_trades),
            ("GET", "/api/v3/account", self.account_info),
        ]
        for method, path, handler in routes:
            self.server.route(method, REST, path, handler)
        for (method, host, path), handler in list(self.server._rest.items()):
            if host == REST:
                self.server.route(method, SANDBOX, path, handler)
        return self

    def lose_answers(self, times: int = 1, seconds: float = 30.0) -> None:
        """Process the next ``times`` order placements, then answer only after ``seconds``."""
        with self._lock:
            self._lose, self._lose_seconds = times, seconds

    def balance(self, asset: str) -> Decimal:
        return self.account.balances.get(asset, Decimal(0)) + self.account.locked.get(asset, Decimal(0))

    # --- request checks --------------------------------------------------------------------------
    async def _signed(self, request: web.Request) -> dict[str, str] | web.Response:
        if request.headers.get("X-MBX-APIKEY") != self.account.api_key:
            return _err(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        body = await request.text()
        total = request.query_string + body
        payload, sep, signature = total.rpartition("&signature=")
        if not sep:
            return _err(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        expected = hmac.new(self.account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return _err(-1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(payload, keep_blank_values=True))
        now = self.market.now_ms()
        ts = int(params.get("timestamp", 0))
        window = int(params.get("recvWindow", 5000))
        if window > 60_000:
            return _err(-1131, "recvWindow must be less than 60000")
        if ts >= now + 1000 or now - ts > window:
            self.refused_late += 1
            return _err(-1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    def _listing(self, params: dict[str, str]):
        try:
            return self.market.by_binance_id(params.get("symbol", ""))
        except StopIteration:
            return None

    def _find(self, params: dict[str, str]) -> Order | None:
        symbol = params.get("symbol", "")
        cid = params.get("origClientOrderId")
        for order in self.orders.values():
            if order.symbol != symbol:
                continue
            if (cid and order.client_order_id == cid) or (
                not cid and str(order.order_id) == params.get("orderId")
            ):
                return order
        return None

    # --- trading ---------------------------------------------------------------------------------
    async def place(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        answer = self._place(params)
        with self._lock:
            lose, self._lose = self._lose > 0, max(self._lose - 1, 0)
        if lose:
            await asyncio.sleep(self._lose_seconds)
        return answer

    def _place(self, params: dict[str, str]) -> web.Response:
        listing = self._listing(params)
        if listing is None:
            return _err(-1121, "Invalid symbol.")
        side, kind = params.get("side"), params.get("type")
        if side not in ("BUY", "SELL") or kind != "LIMIT":
            return _err(-1116, "Invalid orderType.") if kind != "LIMIT" else _err(-1117, "Invalid side.")
        try:
            qty, price = Decimal(params["quantity"]), Decimal(params["price"])
        except (KeyError, ArithmeticError):
            return _err(
                -1102, "Mandatory parameter 'quantity' or 'price' was not sent, was empty/null, or malformed."
            )
        if qty <= 0 or qty % STEP:
            return _err(-1013, "Filter failure: LOT_SIZE")
        if price <= 0 or price % TICK:
            return _err(-1013, "Filter failure: PRICE_FILTER")
        if qty * price < MIN_NOTIONAL:
            return _err(-1013, "Filter failure: NOTIONAL")
        cid = params.get("newClientOrderId") or f"web_{next(self._ids)}"
        with self._lock:
            if any(
                o.client_order_id == cid and o.status in ("NEW", "PARTIALLY_FILLED")
                for o in self.orders.values()
            ):
                return _err(-2010, "Duplicate order sent.")
            pay, pay_amount = (listing.quote, qty * price) if side == "BUY" else (listing.base, qty)
            if self.account.balances.get(pay, Decimal(0)) < pay_amount:
                return _err(-2010, "Account has insufficient balance for requested action.")
            now = self.market.now_ms()
            order = Order(next(self._ids), cid, listing.binance_id, side, kind, params.get("timeInForce", "GTC"),
                          price, qty, time_ms=now)  # fmt: skip
            self.orders[order.order_id] = order
            self.placed += 1
            self._match(order, listing)
            remaining = order.quantity - order.executed
            if remaining > 0 and order.time_in_force in ("IOC", "FOK"):
                order.status = "EXPIRED"
            elif remaining > 0:  # rests on the book: lock what it may still spend
                locked = remaining * price if side == "BUY" else remaining
                self.account.balances[pay] -= locked
                self.account.locked[pay] = self.account.locked.get(pay, Decimal(0)) + locked
            return json_response({**order.payload(), "transactTime": now, "fills": order.fills})

    def _match(self, order: Order, listing) -> None:
        book = self.market.book_snapshot(listing.symbol)
        levels = book.levels("ask" if order.side == "BUY" else "bid")
        now = time.time()
        for price_f, amount_f in levels:
            price = Decimal(str(price_f))
            if (order.side == "BUY" and price > order.price) or (
                order.side == "SELL" and price < order.price
            ):
                break
            key = (listing.symbol, order.side, price_f)
            taken, until = self._taken.get(key, (Decimal(0), 0.0))
            if until < now:
                taken = Decimal(0)
            available = Decimal(str(amount_f)) - taken
            take = min(available, order.quantity - order.executed).quantize(STEP, rounding=ROUND_DOWN)
            if take <= 0:
                continue
            self._taken[key] = (taken + take, now + self.replenish_s)
            self._trade(order, listing, price, take)
            if order.executed >= order.quantity:
                break
        order.status = (
            "FILLED"
            if order.executed >= order.quantity
            else ("PARTIALLY_FILLED" if order.executed else "NEW")
        )

    def _trade(self, order: Order, listing, price: Decimal, qty: Decimal) -> None:
        notional = price * qty
        balances = self.account.balances
        if order.side == "BUY":
            fee, fee_asset = (qty * COMMISSION).quantize(Decimal("1e-8")), listing.base
            balances[listing.quote] = balances.get(listing.quote, Decimal(0)) - notional
            balances[listing.base] = balances.get(listing.base, Decimal(0)) + qty - fee
        else:
            fee, fee_asset = (notional * COMMISSION).quantize(Decimal("1e-8")), listing.quote
            balances[listing.base] = balances.get(listing.base, Decimal(0)) - qty
            balances[listing.quote] = balances.get(listing.quote, Decimal(0)) + notional - fee
        trade_id = next(self._trade_ids)
        order.executed += qty
        order.quote += notional
        order.fills.append({"price": _s(price), "qty": _s(qty), "commission": _s(fee), "commissionAsset": fee_asset,
                            "tradeId": trade_id})  # fmt: skip
        self.trades.append({
            "symbol": order.symbol, "id": trade_id, "orderId": order.order_id, "orderListId": -1, "price": _s(price),
            "qty": _s(qty), "quoteQty": _s(notional), "commission": _s(fee), "commissionAsset": fee_asset,
            "time": self.market.now_ms(), "isBuyer": order.side == "BUY", "isMaker": False, "isBestMatch": True,
        })  # fmt: skip

    async def cancel(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        with self._lock:
            order = self._find(params)
            if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
                return _err(-2011, "Unknown order sent.")
            listing = self.market.by_binance_id(order.symbol)
            remaining = order.quantity - order.executed
            pay, locked = (
                (listing.quote, remaining * order.price) if order.side == "BUY" else (listing.base, remaining)
            )
            self.account.locked[pay] -= locked
            self.account.balances[pay] += locked
            order.status = "CANCELED"
            return json_response({**order.payload(), "origClientOrderId": order.client_order_id})

    async def query(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        order = self._find(params)
        if order is None:
            return _err(-2013, "Order does not exist.")
        return json_response(order.payload())

    async def open_orders(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        symbol = params.get("symbol")
        return json_response([o.payload() for o in self.orders.values()
                              if o.status in ("NEW", "PARTIALLY_FILLED") and symbol in (None, o.symbol)])  # fmt: skip

    async def my_trades(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        if "symbol" not in params:
            return _err(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        limit = min(int(params.get("limit", 500)), 1000)
        rows = [t for t in self.trades if t["symbol"] == params["symbol"]]
        if "fromId" in params:
            rows = [t for t in rows if t["id"] >= int(params["fromId"])]
        else:
            start = int(params.get("startTime", 0))
            end = int(params.get("endTime", 2**62))
            rows = [t for t in rows if start <= t["time"] <= end]
        return json_response(rows[:limit])

    async def account_info(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        if isinstance(params, web.Response):
            return params
        assets = sorted(set(self.account.balances) | set(self.account.locked))
        return json_response({
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0", "seller": "0"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.market.now_ms(),
            "accountType": "SPOT", "permissions": ["SPOT"], "uid": 1,
            "balances": [{"asset": a, "free": _s(self.account.balances.get(a, Decimal(0))),
                          "locked": _s(self.account.locked.get(a, Decimal(0)))} for a in assets],
        })  # fmt: skip
