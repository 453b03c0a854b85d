"""Kraken spot REST, as ccxt uses it (host api.kraken.com, paths /0/public/...).

Like the real API, OHLC only reaches back 720 bars from now, whatever ``since`` asks: older
candles are simply not there, which the REST source must record as a gap rather than invent.
"""

from __future__ import annotations

from aiohttp import web

from marketsim.exchange_server.market import Listing
from marketsim.exchange_server.server import Dialect, json_response

REST = "api.kraken.com"
MAX_OHLC = 720


def _ok(result: dict) -> web.Response:
    return json_response({"error": [], "result": result})


def _unknown_pair() -> web.Response:
    return json_response({"error": ["EQuery:Unknown asset pair"]})


def pair_info(listing: Listing) -> dict:
    return {
        "altname": listing.kraken_id,
        "wsname": f"{'XBT' if listing.base == 'BTC' else listing.base}/{listing.quote}",
        "aclass_base": "currency",
        "base": listing.kraken_base,
        "aclass_quote": "currency",
        "quote": listing.kraken_quote,
        "lot": "unit",
        "cost_decimals": 5,
        "pair_decimals": 2,
        "lot_decimals": 8,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": [[0, 0.26]],
        "fees_maker": [[0, 0.16]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": "0.0001",
        "costmin": "0.5",
        "tick_size": "0.01",
        "status": "online",
    }


class Kraken(Dialect):
    exchange_id = "kraken"

    def rest_routes(self):
        return [
            ("GET", REST, "/0/public/Time", self.time),
            ("GET", REST, "/0/public/Assets", self.assets),
            ("GET", REST, "/0/public/AssetPairs", self.asset_pairs),
            ("GET", REST, "/0/public/OHLC", self.ohlc),
            ("GET", REST, "/0/public/Trades", self.trades),
            ("GET", REST, "/0/public/Depth", self.depth),
        ]

    def _listing(self, request: web.Request) -> Listing | None:
        try:
            return self.market.by_kraken_id(request.query.get("pair", ""))
        except StopIteration:
            return None

    async def time(self, request: web.Request) -> web.Response:
        now = self.market.now_ms()
        return _ok({"unixtime": now // 1000, "rfc1123": ""})

    async def assets(self, request: web.Request) -> web.Response:
        assets = {}
        for listing in self.market.listings.values():
            for asset_id, altname in (
                (listing.kraken_base, listing.base),
                (listing.kraken_quote, listing.quote),
            ):
                alt = "XBT" if altname == "BTC" else altname
                assets[asset_id] = {"aclass": "currency", "altname": alt, "decimals": 10,
                                    "display_decimals": 5, "status": "enabled"}  # fmt: skip
        return _ok(assets)

    async def asset_pairs(self, request: web.Request) -> web.Response:
        return _ok({x.kraken_id: pair_info(x) for x in self.market.listings.values()})

    async def ohlc(self, request: web.Request) -> web.Response:
        listing = self._listing(request)
        if listing is None:
            return _unknown_pair()
        step = int(request.query.get("interval", 1)) * 60_000
        now = self.market.now_ms()
        oldest = (now // step - MAX_OHLC + 1) * step
        since = max(int(request.query.get("since", 0)) * 1000, oldest)
        rows = []
        for open_ms, o, h, lo, c, v in self.market.candles(listing.symbol, step, since, MAX_OHLC):
            rows.append(
                [open_ms // 1000, f"{o:.2f}", f"{h:.2f}", f"{lo:.2f}", f"{c:.2f}", f"{c:.2f}", f"{v:.8f}", 10]
            )
        return _ok({listing.kraken_id: rows, "last": rows[-1][0] if rows else since // 1000})

    async def trades(self, request: web.Request) -> web.Response:
        listing = self._listing(request)
        if listing is None:
            return _unknown_pair()
        count = min(int(request.query.get("count", 1000)), 1000)
        since = int(request.query.get("since", 0))
        since_ms = since // 1_000_000 if since > 10**12 else since * 1000  # seconds or nanoseconds
        trades = self.market.trades_between(listing.symbol, since_ms, self.market.now_ms(), count)
        rows = [
            [
                f"{t.price:.2f}",
                f"{t.amount:.8f}",
                t.ts_ms / 1000,
                "s" if t.buyer_is_maker else "b",
                "m",
                "",
                t.id,
            ]
            for t in trades
        ]
        last = str(trades[-1].ts_ms * 1_000_000) if trades else str(since)
        return _ok({listing.kraken_id: rows, "last": last})

    async def depth(self, request: web.Request) -> web.Response:
        listing = self._listing(request)
        if listing is None:
            return _unknown_pair()
        count = int(request.query.get("count", 100))
        book = self.market.book_snapshot(listing.symbol)
        now_s = self.market.now_ms() // 1000
        return _ok(
            {
                listing.kraken_id: {
                    "asks": [[f"{p:.2f}", f"{a:.8f}", now_s] for p, a in book.levels("ask", count)],
                    "bids": [[f"{p:.2f}", f"{a:.8f}", now_s] for p, a in book.levels("bid", count)],
                }
            }
        )
