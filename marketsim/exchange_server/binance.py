"""Binance spot, as ccxt and ccxt.pro use it: REST market data and the raw websocket streams.

REST (host api.binance.com): exchangeInfo, time, ping, klines, depth, aggTrades, trades.
Websocket (host stream.binance.com, path /ws/<n>): SUBSCRIBE to ``<id>@aggTrade``, ``<id>@trade``
and ``<id>@depth@100ms``; the book moves every 100 ms and is sent as depthUpdate diffs whose
update ids line up with /api/v3/depth's lastUpdateId, as ccxt.pro's book sync expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import WSMsgType, web

from marketsim.exchange_server.market import Listing, Market, Trade
from marketsim.exchange_server.server import Dialect, json_response

REST = "api.binance.com"
WS = "stream.binance.com"
INTERVALS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
             "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "1d": 86_400_000}  # fmt: skip


def _f8(x: float) -> str:
    return f"{x:.8f}"


def _bad_symbol() -> web.Response:
    return json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)


def symbol_info(listing: Listing) -> dict:
    return {
        "symbol": listing.binance_id,
        "status": "TRADING",
        "baseAsset": listing.base,
        "baseAssetPrecision": 8,
        "quoteAsset": listing.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": "0.01000000",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001000",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],  # fmt: skip
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def agg_trade(trade: Trade) -> dict:
    return {
        "a": trade.id,
        "p": _f8(trade.price),
        "q": _f8(trade.amount),
        "f": trade.id,
        "l": trade.id,
        "T": trade.ts_ms,
        "m": trade.buyer_is_maker,
        "M": True,
    }


class Binance(Dialect):
    exchange_id = "binance"
    stream_poll_s = 0.05
    book_tick_s = 0.1

    def rest_routes(self):
        return [
            ("GET", REST, "/api/v3/ping", self.ping),
            ("GET", REST, "/api/v3/time", self.time),
            ("GET", REST, "/api/v3/exchangeInfo", self.exchange_info),
            ("GET", REST, "/api/v3/klines", self.klines),
            ("GET", REST, "/api/v3/depth", self.depth),
            ("GET", REST, "/api/v3/aggTrades", self.agg_trades),
            ("GET", REST, "/api/v3/trades", self.recent_trades),
            # load_markets calls these when keys are set
            ("GET", REST, "/sapi/v1/capital/config/getall", self.coins),
            ("GET", REST, "/sapi/v1/margin/allPairs", self.no_margin_pairs),
            ("GET", REST, "/sapi/v1/margin/isolated/allPairs", self.no_margin_pairs),
        ]

    def ws_routes(self):
        return [(WS, "/ws", self.websocket)]

    def _listing(self, request: web.Request) -> Listing | None:
        try:
            return self.market.by_binance_id(request.query.get("symbol", ""))
        except StopIteration:
            return None

    # --- REST ------------------------------------------------------------------------------------
    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self.market.now_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "timezone": "UTC",
                "serverTime": self.market.now_ms(),
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}
                ],
                "exchangeFilters": [],
                "symbols": [symbol_info(x) for x in self.market.listings.values()],
            }
        )

    async def coins(self, request: web.Request) -> web.Response:
        """Signed: needs the X-MBX-APIKEY header (the signature is not checked here)."""
        if not request.headers.get("X-MBX-APIKEY"):
            return json_response({"code": -2014, "msg": "API-key format invalid."}, status=401)
        coins = sorted({c for x in self.market.listings.values() for c in (x.base, x.quote)})
        return json_response(
            [{"coin": c, "name": c, "depositAllEnable": True, "withdrawAllEnable": True, "trading": True,
              "networkList": []} for c in coins]
        )  # fmt: skip

    async def no_margin_pairs(self, request: web.Request) -> web.Response:
        return json_response([])

    async def klines(self, request: web.Request) -> web.Response:
        listing = self._listing(request)
        interval = INTERVALS.get(request.query.get("interval", ""))
        if listing is None:
            return _bad_symbol()
        if interval is None:
            return json_response({"code": -1120, "msg": "Invalid interval."}, status=400)
        limit = min(int(request.query.get("limit", 500)), 1000)
        end = int(request.query["endTime"]) if "endTime" in request.query else None
        if "startTime" in request.query:
            since = int(request.query["startTime"])
        else:  # the most recent `limit` bars
            since = (self.market.now_ms() // interval - limit + 1) * interval
        rows = []
        for open_ms, o, h, lo, c, v in self.market.candles(listing.symbol, interval, since, limit, end):
            rows.append(
                [open_ms, _f8(o), _f8(h), _f8(lo), _f8(c), _f8(v), open_ms + interval - 1,
                 _f8(v * c), 100, _f8(v / 2), _f8(v * c / 2), "0"]
            )  # fmt: skip
        return json_response(rows)

    async def depth(self, request: web.Request) -> web.Response:
        listing = self._listing(request)
        if listing is None:
            return _bad_symbol()
        limit = int(request.query.get("limit", 100))
        book = self.market.book_snapshot(listing.symbol)
        return json_response(
            {
                "lastUpdateId": book.update_id,
                "bids": [[_f8(p), _f8(a)] for p, a in book.levels("bid", limit)],
                "asks": [[_f8(p), _f8(a)] for p, a in book.levels("ask", limit)],
            }
        )

    async def agg_trades(self, request: web.Request) -> web.Response:
        listing = self._listing(request)
        if listing is None:
            return _bad_symbol()
        limit = min(int(request.query.get("limit", 500)), 1000)
        q = request.query
        if "fromId" in q:
            trades = self.market.trades_from_id(listing.symbol, int(q["fromId"]), limit)
        elif "startTime" in q:
            start = int(q["startTime"])
            end = int(q.get("endTime", start + 3_600_000))
            if end - start > 3_600_000:
                return json_response(
                    {"code": -1127, "msg": "More than 1 hours between startTime and endTime."}, 400
                )
            trades = self.market.trades_between(listing.symbol, start, end, limit)
        else:
            now = self.market.now_ms()
            trades = self.market.trades_between(listing.symbol, now - 3_600_000, now)[-limit:]
        return json_response([agg_trade(t) for t in trades])

    async def recent_trades(self, request: web.Request) -> web.Response:
        listing = self._listing(request)
        if listing is None:
            return _bad_symbol()
        limit = min(int(request.query.get("limit", 500)), 1000)
        now = self.market.now_ms()
        trades = self.market.trades_between(listing.symbol, now - 3_600_000, now)[-limit:]
        return json_response(
            [
                {
                    "id": t.id,
                    "price": _f8(t.price),
                    "qty": _f8(t.amount),
                    "quoteQty": _f8(t.price * t.amount),
                    "time": t.ts_ms,
                    "isBuyerMaker": t.buyer_is_maker,
                    "isBestMatch": True,
                }
                for t in trades
            ]  # fmt: skip
        )

    # --- websocket -------------------------------------------------------------------------------
    async def background(self) -> None:
        """Move every listed book every 100 ms (depthUpdate events for subscribers)."""
        while True:
            for symbol in self.market.listings:
                self.market.tick_book(symbol)
            await asyncio.sleep(self.book_tick_s)

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        assert self.server is not None
        self.server.websockets.add(ws)
        self.server.websocket_connections += 1
        streams: dict[str, dict] = {}  # stream name -> cursor state
        pusher = asyncio.ensure_future(self._push(ws, streams))
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                request_body = json.loads(message.data)
                method = request_body.get("method")
                if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
                    for name in request_body.get("params", []):
                        if method == "SUBSCRIBE":
                            streams[name] = self._cursor(name)
                        else:
                            streams.pop(name, None)
                    await ws.send_str(json.dumps({"result": None, "id": request_body.get("id")}))
                elif method == "LIST_SUBSCRIPTIONS":
                    await ws.send_str(json.dumps({"result": list(streams), "id": request_body.get("id")}))
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
            self.server.websockets.discard(ws)
        return ws

    def _cursor(self, name: str) -> dict:
        market_id, channel = name.split("@", 1)
        listing = self.market.by_binance_id(market_id)
        if channel.startswith("depth"):
            return {
                "symbol": listing.symbol,
                "channel": "depth",
                "sent": len(self.market.book_events.get(listing.symbol, [])),
            }
        return {"symbol": listing.symbol, "channel": channel, "last_id": self.market.last_trade_id(listing.symbol),
                "market_id": listing.binance_id}  # fmt: skip

    async def _push(self, ws: web.WebSocketResponse, streams: dict[str, dict]) -> None:
        while not ws.closed:
            for state in list(streams.values()):
                symbol = state["symbol"]
                listing = self.market.listings[symbol]
                if state["channel"] == "depth":
                    events = self.market.book_events.get(symbol, [])
                    for event in events[state["sent"] :]:
                        await ws.send_str(json.dumps({"e": "depthUpdate", "s": listing.binance_id, **event,
                            "b": [[_f8(p), _f8(a)] for p, a in event["b"]],
                            "a": [[_f8(p), _f8(a)] for p, a in event["a"]]}))  # fmt: skip
                    state["sent"] = len(events)
                    continue
                held = state.setdefault("held", [])  # stragglers, sent once their delay is over
                for trade in self.market.trades_from_id(symbol, state["last_id"] + 1, 1000):
                    if trade.id <= state["last_id"]:
                        continue
                    state["last_id"] = trade.id
                    if self.market.is_straggler(trade.id):
                        held.append(trade)
                    else:
                        await self._send_trade(ws, state, listing, trade)
                now = self.market.now_ms()
                while held and held[0].ts_ms + self.market.straggler_delay_ms <= now:
                    await self._send_trade(ws, state, listing, held.pop(0))
            await asyncio.sleep(self.stream_poll_s)

    async def _send_trade(
        self, ws: web.WebSocketResponse, state: dict, listing: Listing, trade: Trade
    ) -> None:
        payload = {"e": state["channel"], "E": trade.ts_ms, "s": listing.binance_id, **agg_trade(trade)}
        if state["channel"] == "trade":
            payload = {"e": "trade", "E": trade.ts_ms, "s": listing.binance_id, "t": trade.id,
                       "p": _f8(trade.price), "q": _f8(trade.amount), "T": trade.ts_ms,
                       "m": trade.buyer_is_maker, "M": True}  # fmt: skip
        await ws.send_str(json.dumps(payload))
        assert self.server is not None
        self.server.trades_sent += 1


__all__ = ["Binance", "Market"]
