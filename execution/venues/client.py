"""A paper venue reached over HTTP: the :class:`Venue` the service uses to talk to the paper server.

aiohttp rather than httpx on this path: at hundreds of orders per second its per-request cost is
several times lower, and this client sits on the signal-to-acknowledgement latency path.

Transport failures become the venue errors that tell the order manager what it may conclude: a
refused connection never reached the venue (:class:`VenueUnavailable`); a timeout or a dropped
answer leaves the outcome unknown (:class:`VenueTimeout`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import aiohttp
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


class PaperVenue(Venue):
    """One venue of the paper venue server at ``base_url``."""

    def __init__(
        self,
        name: str,
        kind: Literal["cex", "amm"],
        client: aiohttp.ClientSession,
        base_url: str,
        timeout_s: float = 2.0,
    ):
        self.name, self.kind, self.client, self.timeout_s = name, kind, client, timeout_s
        self.prefix = f"{base_url.rstrip('/')}/venues/{name}"

    async def _call(self, method: str, path: str, *, mutating: bool, **kw: Any) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with self.client.request(method, self.prefix + path, timeout=timeout, **kw) as response:
                status = response.status
                content = await response.read()
                retry_after = response.headers.get("Retry-After")
        except aiohttp.ClientConnectorError as exc:
            raise VenueUnavailable(f"{self.name}: cannot connect ({type(exc).__name__})") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise VenueTimeout(f"{self.name}: no answer ({type(exc).__name__})") from None
        if status == 429:
            raise RateLimited(retry_after_seconds(retry_after), f"{self.name}: 429")
        if status >= 500:
            err = VenueTimeout if mutating else VenueUnavailable
            raise err(f"{self.name}: HTTP {status}")
        body = orjson.loads(content)
        if status == 404:
            raise OrderNotFound(body.get("message", "not found"))
        if status >= 400:
            raise OrderRejected(body.get("message", f"HTTP {status}"))
        return body

    async def markets(self) -> dict[str, MarketRules]:
        base = self.prefix.rsplit("/venues/", 1)[0]
        try:
            async with self.client.get(
                f"{base}/venues", timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            ) as r:
                listing = await r.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise VenueUnavailable(f"{self.name}: {type(exc).__name__}") from None
        for v in listing:
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
        body = await self._call(
            "GET", "/book", mutating=False, params={"symbol": symbol, "depth": str(depth)}
        )
        bids = np.asarray(body["bids"], dtype=float).reshape(-1, 2)
        asks = np.asarray(body["asks"], dtype=float).reshape(-1, 2)
        return OrderBook(self.name, symbol, bids, asks, float(body["time"]))

    async def pool(self, symbol: str) -> PoolState:
        b = await self._call("GET", "/pool", mutating=False, params={"symbol": symbol})
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
        data = orjson.dumps(body)
        headers = {"Content-Type": "application/json"}
        return parse_order(await self._call("POST", "/orders", mutating=True, data=data, headers=headers))

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        return parse_order(await self._call("DELETE", f"/orders/{client_order_id}", mutating=True))

    async def fetch_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        return parse_order(await self._call("GET", f"/orders/{client_order_id}", mutating=False))

    async def fetch_updates(self, cursor: str | None) -> VenueUpdates:
        body = await self._call("GET", "/updates", mutating=False, params={"after": cursor or "0"})
        orders, fills = [], []
        for u in body["updates"]:
            (fills.append(parse_fill(u)) if u["type"] == "fill" else orders.append(parse_order(u)))
        return VenueUpdates(orders, fills, body["next"])

    async def open_orders(self) -> list[VenueOrder]:
        return [parse_order(o) for o in await self._call("GET", "/orders", mutating=False)]


async def paper_venues(
    base_url: str, client: aiohttp.ClientSession, timeout_s: float
) -> dict[str, PaperVenue]:
    """Every venue the paper server at ``base_url`` runs."""
    try:
        async with client.get(
            f"{base_url.rstrip('/')}/venues", timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as r:
            r.raise_for_status()
            listing = await r.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise VenueUnavailable(
            f"paper venue server at {base_url} is not reachable ({type(exc).__name__}); "
            "start it with `python -m execution.venues.server`"
        ) from None
    return {v["name"]: PaperVenue(v["name"], v["kind"], client, base_url, timeout_s) for v in listing}
