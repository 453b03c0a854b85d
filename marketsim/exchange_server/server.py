"""A local exchange on 127.0.0.1 that real ccxt / ccxt.pro clients talk to.

The server routes ``/<original host>/<original path>`` (what ``CcxtMarketData.api_base`` produces) to
dialect handlers, so one server speaks Binance and Kraken at once. Every REST request is logged
(``server.requests``) and may be hit by a scripted fault (``server.faults``).

Extending it (e.g. order endpoints for the execution tests): subclass a dialect and add routes in
``rest_routes()``, or call ``server.route("POST", "api.binance.com", "/api/v3/order", handler)``
before or after ``start()``; a handler is ``async def handler(request) -> aiohttp.web.Response``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from marketsim.exchange_server.faults import Faults
from marketsim.exchange_server.market import Market

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class LoggedRequest:
    at: float  # time.monotonic() when it arrived
    method: str
    host: str
    path: str
    query: dict[str, str]
    status: int


class Dialect:
    """One exchange's API: REST routes and websocket routes over a shared :class:`Market`."""

    exchange_id = ""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.server: ExchangeServer | None = None

    def rest_routes(self) -> list[tuple[str, str, str, Handler]]:
        """(method, host, path, handler) tuples."""
        return []

    def ws_routes(self) -> list[tuple[str, str, Handler]]:
        """(host, path prefix, handler) tuples for websocket upgrades."""
        return []

    async def background(self) -> None:
        """A task run while the server is up (e.g. moving the live order book)."""


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(payload), status=status, content_type="application/json", headers=headers
    )


class ExchangeServer:
    """Start with ``with ExchangeServer(...) as server:``; ``server.base_url`` is the api_base."""

    def __init__(self, market: Market | None = None, dialects: list[type[Dialect]] | None = None) -> None:
        from marketsim.exchange_server.binance import Binance
        from marketsim.exchange_server.kraken import Kraken

        self.market = market or Market()
        self.faults = Faults()
        self.requests: list[LoggedRequest] = []
        self.dialects = [cls(self.market) for cls in (dialects or [Binance, Kraken])]
        self._rest: dict[tuple[str, str, str], Handler] = {}
        self._ws: list[tuple[str, str, Handler]] = []
        self.websockets: set[web.WebSocketResponse] = set()
        self.websocket_connections = 0  # opened since start
        self.trades_sent = 0  # trade messages pushed over websockets since start
        for dialect in self.dialects:
            dialect.server = self
            for method, host, path, handler in dialect.rest_routes():
                self.route(method, host, path, handler)
            self._ws.extend(dialect.ws_routes())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []
        self.port = 0

    # --- set-up ----------------------------------------------------------------------------------
    def route(self, method: str, host: str, path: str, handler: Handler) -> None:
        self._rest[(method.upper(), host, path)] = handler

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def venue(self, exchange: str, **extra: Any) -> dict[str, Any]:
        """A ``ccxt_venues`` entry pointing ``exchange`` at this server (rate limiter off for speed)."""
        return {"exchange": exchange, "api_base": self.base_url, "rate_limit": False, **extra}

    def start(self) -> ExchangeServer:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="test-exchange", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("test exchange did not start")
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{host}/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tasks = [asyncio.ensure_future(d.background()) for d in self.dialects]

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            for ws in list(self.websockets):
                await ws.close()
            # background tasks and requests still being answered (a stalled one): cancel, then wait
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> ExchangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults on websockets --------------------------------------------------------------------
    def drop_websockets(self) -> int:
        """Cut every open websocket without a closing handshake (a dropped connection)."""
        if self._loop is None:
            return 0

        async def cut() -> int:
            count = 0
            for ws in list(self.websockets):
                transport = ws._req.transport if ws._req is not None else None
                if transport is not None:
                    transport.abort()
                    count += 1
                self.websockets.discard(ws)
            return count

        return asyncio.run_coroutine_threadsafe(cut(), self._loop).result(10)

    # --- dispatch --------------------------------------------------------------------------------
    def requests_to(self, path_part: str) -> list[LoggedRequest]:
        return [r for r in self.requests if path_part in r.path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        host = request.match_info["host"]
        path = "/" + request.match_info["tail"]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            for ws_host, prefix, handler in self._ws:
                if ws_host == host and path.startswith(prefix):
                    return await handler(request)
            return web.Response(status=404, text=f"no websocket at {host}{path}")
        status = 200
        try:
            fault = self.faults.take(path)
            if fault is not None and fault.kind == "stall":
                await asyncio.sleep(fault.seconds)
            elif fault is not None:
                status = fault.status
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
                body, content_type = fault.text()
                return web.Response(
                    text=body, status=fault.status, headers=headers, content_type=content_type
                )
            handler = self._rest.get((request.method, host, path))
            if handler is None:
                status = 404
                return json_response({"code": -1, "msg": f"no route {request.method} {host}{path}"}, 404)
            response = await handler(request)
            status = response.status
            return response
        finally:
            self.requests.append(
                LoggedRequest(time.monotonic(), request.method, host, path, dict(request.query), status)
            )
