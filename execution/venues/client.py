"""A paper venue reached over HTTP: the :class:`Venue` the service uses to talk to the paper server.

A lean keep-alive client (:mod:`execution.venues.http`) rather than a general one on this path: at
hundreds of orders per second its per-request cost is several times lower, and this client sits on
the signal-to-acknowledgement latency path.

Transport failures become the venue errors that tell the order manager what it may conclude: a
refused connection never reached the venue (:class:`VenueUnavailable`); a timeout or a dropped
answer leaves the outcome unknown (:class:`VenueTimeout`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import numpy as np
import orjson

from execution.venues.base import (
    MarketRules,
    OrderBook,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    PoolState,
    RateLimited,
    Side,
    Venue,
    VenueFill,
    VenueOrder,
    VenueStatus,
    VenueTimeout,
    VenueUnavailable,
    VenueUpdates,
)
from execution.venues.http import ConnectFailed, LoopbackHttpClient, NoAnswer


def parse_order(body: dict[str, Any]) -> VenueOrder:
    return VenueOrder(
        client_order_id=body["client_order_id"],
        venue_order_id=body["venue_order_id"],
        symbol=body["symbol"],
        side=Side(body["side"]),
        amount=Decimal(body["amount"]),
        filled=Decimal(body["filled"]),
        status=VenueStatus(body["status"]),
        average_price=None if body.get("average_price") is None else Decimal(body["average_price"]),
        fee=Decimal(body.get("fee", "0")),
        reason=body.get("reason"),
        timestamp=float(body.get("timestamp", 0.0)),
    )


def parse_fill(body: dict[str, Any]) -> VenueFill:
    return VenueFill(
        venue=body["venue"],
        fill_id=body["fill_id"],
        client_order_id=body["client_order_id"],
        symbol=body["symbol"],
        side=Side(body["side"]),
        price=Decimal(body["price"]),
        amount=Decimal(body["amount"]),
        fee=Decimal(body["fee"]),
        timestamp=float(body["timestamp"]),
    )


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """Retry-After as seconds (RFC 9110 gives integer seconds; fractions accepted too)."""
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def paper_client(base_url: str, max_connections: int = 128) -> LoopbackHttpClient:
    """The HTTP client for the paper venue server at ``base_url`` (``http://host:port``)."""
    url = urlsplit(base_url)
    if url.scheme != "http" or not url.hostname or not url.port:
        raise ValueError(
            f"execution.paper.url must be http://host:port (the paper server on loopback), got {base_url!r}"
        )
    return LoopbackHttpClient(url.hostname, url.port, max_connections=max_connections)


class PaperVenue(Venue):
    """One venue of the paper venue server that ``client`` talks to."""

    def __init__(
        self,
        name: str,
        kind: Literal["cex", "amm"],
        client: LoopbackHttpClient,
        timeout_s: float = 2.0,
    ):
        self.name, self.kind, self.client, self.timeout_s = name, kind, client, timeout_s
        self.prefix = f"/venues/{name}"

    async def _call(self, method: str, path: str, *, mutating: bool, body: bytes | None = None) -> Any:
        try:
            answer = await self.client.request(method, self.prefix + path, body, self.timeout_s)
        except ConnectFailed as exc:
            raise VenueUnavailable(f"{self.name}: cannot connect ({exc})") from None
        except NoAnswer as exc:
            raise VenueTimeout(f"{self.name}: no answer ({exc})") from None
        status = answer.status
        if status == 429:
            raise RateLimited(retry_after_seconds(answer.retry_after), f"{self.name}: 429")
        if status >= 500:
            err = VenueTimeout if mutating else VenueUnavailable
            raise err(f"{self.name}: HTTP {status}")
        body_ = orjson.loads(answer.body)
        if status == 404:
            raise OrderNotFound(body_.get("message", "not found"))
        if status >= 400:
            raise OrderRejected(body_.get("message", f"HTTP {status}"))
        return body_

    async def markets(self) -> dict[str, MarketRules]:
        for v in await _listing(self.client, self.timeout_s):
            if v["name"] == self.name:
                return {
                    sym: MarketRules(
                        symbol=sym,
                        price_increment=Decimal(r["price_increment"]),
                        amount_increment=Decimal(r["amount_increment"]),
                        min_amount=Decimal(r["min_amount"]),
                        taker_fee=Decimal(r["taker_fee"]),
                        rate_limit_per_s=float(r["rate_limit_per_s"]),
                        gas_quote=Decimal(r["gas_quote"]),
                    )
                    for sym, r in v["rules"].items()
                }
        raise VenueUnavailable(f"the paper server has no venue {self.name!r}")

    async def order_book(self, symbol: str, depth: int) -> OrderBook:
        body = await self._call("GET", f"/book?symbol={quote(symbol, safe='')}&depth={depth}", mutating=False)
        bids = np.asarray(body["bids"], dtype=float).reshape(-1, 2)
        asks = np.asarray(body["asks"], dtype=float).reshape(-1, 2)
        return OrderBook(self.name, symbol, bids, asks, float(body["time"]))

    async def pool(self, symbol: str) -> PoolState:
        b = await self._call("GET", f"/pool?symbol={quote(symbol, safe='')}", mutating=False)
        return PoolState(
            self.name, symbol, b["base_reserve"], b["quote_reserve"], b["fee"], b["gas_quote"], b["timestamp"]
        )

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        body = {
            "client_order_id": request.client_order_id,
            "symbol": request.symbol,
            "side": request.side.value,
            "amount": str(request.amount),
            "limit_price": None if request.limit_price is None else str(request.limit_price),
            "time_in_force": request.time_in_force.value,
            "expires_at": request.expires_at,
        }
        return parse_order(await self._call("POST", "/orders", mutating=True, body=orjson.dumps(body)))

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        return parse_order(
            await self._call("DELETE", f"/orders/{quote(client_order_id, safe='')}", mutating=True)
        )

    async def fetch_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        return parse_order(
            await self._call("GET", f"/orders/{quote(client_order_id, safe='')}", mutating=False)
        )

    async def fetch_updates(self, cursor: str | None) -> VenueUpdates:
        body = await self._call("GET", f"/updates?after={quote(cursor or '0', safe='')}", mutating=False)
        orders, fills = [], []
        for u in body["updates"]:
            (fills.append(parse_fill(u)) if u["type"] == "fill" else orders.append(parse_order(u)))
        return VenueUpdates(orders, fills, body["next"])

    async def open_orders(self) -> list[VenueOrder]:
        return [parse_order(o) for o in await self._call("GET", "/orders", mutating=False)]


async def _listing(client: LoopbackHttpClient, timeout_s: float) -> list[dict[str, Any]]:
    try:
        answer = await client.request("GET", "/venues", None, timeout_s)
    except (ConnectFailed, NoAnswer) as exc:
        raise VenueUnavailable(
            f"paper venue server at http://{client.host}:{client.port} is not reachable ({exc}); "
            "start it with `python -m execution.venues.server`"
        ) from None
    if answer.status != 200:
        raise VenueUnavailable(f"paper venue server answered /venues with HTTP {answer.status}")
    return orjson.loads(answer.body)


async def paper_venues(client: LoopbackHttpClient, timeout_s: float) -> dict[str, PaperVenue]:
    """Every venue the paper server that ``client`` talks to runs."""
    return {
        v["name"]: PaperVenue(v["name"], v["kind"], client, timeout_s)
        for v in await _listing(client, timeout_s)
    }
