"""The paper venue server: paper venues in their own process on loopback, as an exchange would be.

A crash of the execution service leaves this process, and the orders and fills in it, alive to be
reconciled against. With a fault plan it misbehaves like a real venue: late answers, lost answers,
429 with Retry-After, duplicate and shuffled fills. Run it with::

    python -m execution.venues.server --port 8710 [--faults '{"timeout": 0.05, ...}']
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import time
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from execution.venues.base import (
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    RateLimited,
    Side,
    TimeInForce,
    VenueFill,
    VenueOrder,
)
from execution.venues.matching import PaperExchange


class MarketClock:
    """Market time (epoch seconds) = start + (wall time since creation) x speed."""

    def __init__(self, start: float, speed: float = 1.0):
        self.start, self.speed, self.wall0 = start, speed, time.time()

    def now(self) -> float:
        return self.start + (time.time() - self.wall0) * self.speed

    def advance_to(self, t: float) -> float:
        """Jump market time forward to ``t`` (a replay moving to the next bar); never backwards."""
        now = self.now()
        if t < now:
            raise ValueError(f"market time is {now:.3f}; it moves forward only, not to {t:.3f}")
        self.start, self.wall0 = t, time.time()
        return t


class FaultPlan:
    """Seeded misbehaviour; probabilities per request (see kimera.config.PaperFaults)."""

    def __init__(self, **kw: Any):
        self.update(kw)

    def update(self, kw: dict[str, Any]) -> None:
        self.rng = random.Random(kw.get("seed", 11))
        self.timeout = float(kw.get("timeout", 0.0))
        self.lost_answer = float(kw.get("lost_answer", 0.0))
        self.rate_limited = float(kw.get("rate_limited", 0.0))
        self.duplicate_fill = float(kw.get("duplicate_fill", 0.0))
        self.reorder_fills = float(kw.get("reorder_fills", 0.0))
        self.delay_s = float(kw.get("delay_s", 3.0))

    def roll(self, p: float) -> bool:
        return p > 0 and self.rng.random() < p


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value))


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, default=_default),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def order_json(o: VenueOrder) -> dict[str, Any]:
    """``asdict(o)`` without its deep copies (on every answer; the copies cost more than the matching)."""
    return {"client_order_id": o.client_order_id, "venue_order_id": o.venue_order_id, "symbol": o.symbol,
            "side": o.side, "amount": o.amount, "filled": o.filled, "status": o.status,
            "average_price": o.average_price, "fee": o.fee, "reason": o.reason, "timestamp": o.timestamp}  # fmt: skip


def fill_json(f: VenueFill) -> dict[str, Any]:
    """``asdict(f)`` without its deep copies."""
    return {"venue": f.venue, "fill_id": f.fill_id, "client_order_id": f.client_order_id, "symbol": f.symbol,
            "side": f.side, "price": f.price, "amount": f.amount, "fee": f.fee, "timestamp": f.timestamp}  # fmt: skip


def create_venue_app(
    exchange: PaperExchange, clock: MarketClock, faults: FaultPlan | None = None
) -> Starlette:
    faults = faults or FaultPlan()

    def error(exc: Exception) -> Response:
        if isinstance(exc, RateLimited):
            return _json(
                {"error": "rate_limited", "message": str(exc)},
                429,
                {"Retry-After": f"{exc.retry_after:.3f}"},
            )
        if isinstance(exc, OrderNotFound):
            return _json({"error": "not_found", "message": f"no order {exc}"}, 404)
        return _json({"error": "rejected", "message": str(exc)}, 400)

    async def misbehave(request: Request, handler) -> Response:
        """Apply the fault plan around a handler that changes or reads an order."""
        if faults.roll(faults.rate_limited):
            return _json({"error": "rate_limited", "message": "injected 429"}, 429, {"Retry-After": "0.050"})
        if faults.roll(faults.timeout):  # answer after the client gave up, processing late
            await asyncio.sleep(faults.delay_s)
            return await handler()
        if faults.roll(faults.lost_answer):  # processed now, answer lost
            response = await handler()
            await asyncio.sleep(faults.delay_s)
            return response
        return await handler()

    async def ping(request: Request) -> Response:
        return _json({"time": clock.now()})

    async def venues(request: Request) -> Response:
        out = []
        for v in exchange.venues.values():
            s = v.spec
            out.append(
                {
                    "name": s.name,
                    "kind": s.kind,
                    "symbols": list(s.symbols),
                    "rules": {sym: asdict(s.rules(sym)) for sym in s.symbols},
                }
            )
        return _json(out)

    async def book(request: Request) -> Response:
        try:
            v = exchange.venue(request.path_params["venue"])
            symbol = request.query_params["symbol"]
            depth = int(request.query_params.get("depth", "50"))
            b = v.book(symbol, clock.now(), depth)
        except (OrderRejected, KeyError) as exc:
            return error(OrderRejected(str(exc)))
        return _json({"bids": b.bids.tolist(), "asks": b.asks.tolist(), "time": b.timestamp})

    async def pool(request: Request) -> Response:
        try:
            v = exchange.venue(request.path_params["venue"])
            p = v.pool(request.query_params["symbol"], clock.now())
        except (OrderRejected, KeyError) as exc:
            return error(OrderRejected(str(exc)))
        return _json(asdict(p))

    async def place(request: Request) -> Response:
        body = await request.json()

        async def handler() -> Response:
            try:
                v = exchange.venue(request.path_params["venue"])
                req = OrderRequest(
                    client_order_id=str(body["client_order_id"]),
                    symbol=str(body["symbol"]),
                    side=Side(body["side"]),
                    amount=Decimal(str(body["amount"])),
                    limit_price=None
                    if body.get("limit_price") is None
                    else Decimal(str(body["limit_price"])),
                    time_in_force=TimeInForce(body.get("time_in_force", "IOC")),
                    expires_at=None if body.get("expires_at") is None else float(body["expires_at"]),
                )
                if (
                    req.expires_at is not None
                    and time.time() > req.expires_at
                    and req.client_order_id not in v.orders
                ):
                    raise OrderRejected(
                        f"request expired at {req.expires_at:.3f} before it reached the venue"
                    )
                order, duplicate = v.place(req, clock.now())
            except (OrderRejected, RateLimited) as exc:
                return error(exc)
            except (KeyError, ValueError, ArithmeticError) as exc:
                return error(OrderRejected(f"malformed order: {exc!r}"))
            return _json(order_json(order), 200 if duplicate else 201)

        return await misbehave(request, handler)

    async def get_order(request: Request) -> Response:
        async def handler() -> Response:
            try:
                v = exchange.venue(request.path_params["venue"])
                return _json(order_json(v.fetch(request.path_params["cid"], clock.now())))
            except (OrderNotFound, OrderRejected) as exc:
                return error(exc)

        return await misbehave(request, handler)

    async def cancel(request: Request) -> Response:
        async def handler() -> Response:
            try:
                v = exchange.venue(request.path_params["venue"])
                return _json(order_json(v.cancel(request.path_params["cid"], clock.now())))
            except (OrderNotFound, OrderRejected) as exc:
                return error(exc)

        return await misbehave(request, handler)

    async def open_orders(request: Request) -> Response:
        try:
            v = exchange.venue(request.path_params["venue"])
        except OrderRejected as exc:
            return error(exc)
        return _json([order_json(o) for o in v.open_orders(clock.now())])

    async def updates(request: Request) -> Response:
        try:
            v = exchange.venue(request.path_params["venue"])
        except OrderRejected as exc:
            return error(exc)
        # The cursor is "<session>:<n>": one from an earlier run of this server (whose updates are
        # gone with its memory) or a bare number starts from the beginning of this run's stream.
        session, _, n = (request.query_params.get("after") or "").rpartition(":")
        try:
            after = int(n) if session == exchange.session else 0
        except ValueError:
            return _json(
                {"error": "bad_request", "message": "after must be a cursor this server returned"}, 422
            )
        page = v.updates_after(after, clock.now())
        out = [
            {"type": "fill", **fill_json(u)}
            if isinstance(u, VenueFill)
            else {"type": "order", **order_json(u)}
            for u in page
        ]
        if faults.duplicate_fill > 0:
            out = [
                x
                for u in out
                for x in ([u, u] if u["type"] == "fill" and faults.roll(faults.duplicate_fill) else [u])
            ]
        if faults.roll(faults.reorder_fills):
            faults.rng.shuffle(out)
        return _json({"updates": out, "next": f"{exchange.session}:{after + len(page)}"})

    async def set_faults(request: Request) -> Response:
        faults.update(await request.json())
        return _json({"ok": True})

    async def set_clock(request: Request) -> Response:
        """``PUT /admin/clock {"time": epoch seconds}``: move market time forward (a replay's next bar)."""
        try:
            body = await request.json()
            target = float(body["time"])
        except (ValueError, KeyError, TypeError):
            return _json({"error": "bad_request", "message": 'expected {"time": <epoch seconds>}'}, 422)
        try:
            clock.advance_to(target)
        except ValueError as exc:
            return _json({"error": "conflict", "message": str(exc)}, 409)
        for v in exchange.venues.values():
            v.advance(target)  # resting orders meet the market of the new time
        return _json({"time": clock.now()})

    async def state(request: Request) -> Response:
        now = clock.now()
        out = {}
        for name, v in exchange.venues.items():
            v.advance(now)
            out[name] = {
                "orders": [order_json(o.view()) for o in v.orders.values()],
                "fills": [fill_json(f) for f in v.fills],
            }
        return _json(out)

    routes = [
        Route("/ping", ping),
        Route("/venues", venues),
        Route("/venues/{venue}/book", book),
        Route("/venues/{venue}/pool", pool),
        Route("/venues/{venue}/orders", place, methods=["POST"]),
        Route("/venues/{venue}/orders", open_orders, methods=["GET"]),
        Route("/venues/{venue}/orders/{cid}", get_order, methods=["GET"]),
        Route("/venues/{venue}/orders/{cid}", cancel, methods=["DELETE"]),
        Route("/venues/{venue}/updates", updates),
        Route("/admin/faults", set_faults, methods=["PUT"]),
        Route("/admin/state", state),
        Route("/admin/clock", set_clock, methods=["PUT"]),
    ]
    return Starlette(routes=routes)


def build_from_config(config, faults: dict[str, Any] | None = None, start: float | None = None) -> Starlette:
    """The paper venue server's app for a Kimera config; market time starts at ``start`` (epoch
    seconds; default the end of the demo window, where the ingested data stops)."""
    from execution.venues.specs import paper_market, paper_specs

    paper = config.execution.paper
    seed = paper.seed if paper.seed is not None else config.sim.seed
    exchange = PaperExchange(
        paper_market(config),
        paper_specs(config),
        seed=seed,
        replenish_s=paper.replenish_s,
        session=secrets.token_hex(4),
    )
    if start is None:
        start = config.demo_end.replace(tzinfo=UTC).timestamp()
    clock = MarketClock(start=start, speed=paper.speed)
    plan = paper.faults.model_dump()
    plan.update(faults or {})
    return create_venue_app(exchange, clock, FaultPlan(**plan))


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from kimera.config import load_config

    parser = argparse.ArgumentParser(description="Kimera paper venue server")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--config", default=None, help="Config file (default: KIMERA_CONFIG or kimera.yaml).")
    parser.add_argument("--faults", default=None, help="JSON fault plan, e.g. '{\"timeout\": 0.05}'.")
    parser.add_argument(
        "--start",
        default=None,
        help="Market time to start at, ISO 8601 UTC (default: the demo window's end).",
    )
    args = parser.parse_args(argv)
    config = load_config(args.config)
    start = None
    if args.start is not None:
        try:
            start = datetime.fromisoformat(args.start).replace(tzinfo=UTC).timestamp()
        except ValueError:
            parser.error(f"--start {args.start!r} is not an ISO 8601 time (e.g. 2026-03-31T00:00:00)")
    app = build_from_config(config, json.loads(args.faults) if args.faults else None, start)
    port = args.port or config.execution.paper.port
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
