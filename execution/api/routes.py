"""The service's routes. ``create_router(dependencies)`` lets issue #8 put request signing in front."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from execution.api.errors import problem
from execution.api.intake import answer_signal
from execution.api.models import (
    ErrorOut,
    FillOut,
    KillSwitchIn,
    KillSwitchOut,
    OrderOut,
    PnlOut,
    PositionOut,
    RefusalOut,
    SignalIn,
    SignalOut,
)
from execution.killswitch import SwitchState
from execution.orders import OrderState
from execution.service import ExecutionService, order_view

_ERRORS = {409: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}}


async def service_of(request: Request) -> ExecutionService:  # async: no threadpool hop per request
    return request.app.state.service


Service = Annotated[ExecutionService, Depends(service_of)]


def public_router() -> APIRouter:
    """Routes open without credentials: liveness and metrics."""
    router = APIRouter()

    @router.get("/healthz", tags=["ops"])
    async def healthz(service: Service) -> dict:
        return {
            "status": "ok" if service.started else "starting",
            "kill_switch": service.killswitch.state.value,
            # the venues' time of the oldest book the router holds (epoch s): how far the books have
            # followed the market, e.g. a paper market whose clock was just moved
            "market_as_of": service.market.as_of() if service.market is not None else None,
        }

    @router.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics(service: Service) -> Response:
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    return router


def create_router(dependencies: Sequence = ()) -> APIRouter:
    """Trading routes; ``dependencies`` run before each (e.g. authentication)."""
    router = APIRouter(dependencies=list(dependencies), responses=_ERRORS)

    @router.post("/signals", response_model=SignalOut, tags=["signals"])
    async def post_signal(signal: SignalIn, service: Service, request: Request):
        """Decide on a signal and send its orders; a repeated ``signal_id`` returns the first answer."""
        # answered as JSON directly: response_model re-validation costs more than the decision. Apps
        # made by create_app answer this route in execution.api.intake, past the framework, the same way
        status, payload = await answer_signal(service, signal, request.scope.get("state", {}).get("key_id"))
        return Response(payload, status_code=status, media_type="application/json")

    @router.get("/signals/{signal_id}", response_model=SignalOut, tags=["signals"])
    async def get_signal(signal_id: str, service: Service):
        if signal_id not in service.signals:
            return problem(404, "not_found", f"no signal {signal_id!r}")
        return service.signal_view(signal_id, duplicate=True)

    @router.get("/orders", response_model=list[OrderOut], tags=["orders"])
    async def list_orders(
        service: Service,
        state: Annotated[OrderState | None, Query(description="Only orders in this state.")] = None,
        asset: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{2,10}$")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    ):
        orders = [
            o for o in service.oms.orders.values()
            if (state is None or o.state is state) and (asset is None or o.asset == asset)
        ]  # fmt: skip
        orders.sort(key=lambda o: o.client_order_id, reverse=True)
        return [order_view(o) for o in orders[:limit]]

    @router.get("/orders/{client_order_id}", response_model=OrderOut, tags=["orders"])
    async def get_order(client_order_id: str, service: Service):
        order = service.oms.orders.get(client_order_id)
        if order is None:
            return problem(404, "not_found", f"no order {client_order_id!r}")
        return order_view(order)

    @router.post("/orders/{client_order_id}/cancel", response_model=OrderOut, tags=["orders"])
    async def cancel_order(client_order_id: str, service: Service):
        """Cancel one order (cancels pass whatever the kill switch says)."""
        if client_order_id not in service.oms.orders:
            return problem(404, "not_found", f"no order {client_order_id!r}")
        return order_view(await service.cancel(client_order_id))

    @router.post("/orders/cancel-all", tags=["orders"])
    async def cancel_all(service: Service) -> dict:
        return {"cancel_requested": await service.cancel_all()}

    @router.get("/fills", response_model=list[FillOut], tags=["fills"])
    async def list_fills(service: Service, limit: Annotated[int, Query(ge=1, le=100_000)] = 1000):
        rows = await service.journal_rows(
            "SELECT venue, fill_id, client_order_id, symbol, side, price, amount, fee, at FROM fills "
            "ORDER BY recorded_at DESC LIMIT ?",
            (limit,),
        )
        keys = ("venue", "fill_id", "client_order_id", "symbol", "side", "price", "amount", "fee", "at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    @router.get("/positions", response_model=list[PositionOut], tags=["portfolio"])
    async def positions(service: Service):
        marks = service.marks()
        q = Decimal("0.00000001")
        return [
            {"asset": a, "quantity": p.quantity, "average_price": p.average_price.quantize(q),
             "realised": p.realised.quantize(q), "fees": p.fees, "mark": marks.get(a),
             "unrealised": p.unrealised(marks.get(a)).quantize(q)}
            for a, p in service.portfolio.positions.items()
        ]  # fmt: skip

    @router.get("/pnl", response_model=PnlOut, tags=["portfolio"])
    async def pnl(service: Service):
        return service.pnl()

    @router.get("/refusals", response_model=list[RefusalOut], tags=["risk"])
    async def refusals(service: Service, limit: Annotated[int, Query(ge=1, le=10_000)] = 100):
        rows = await service.journal_rows(
            "SELECT reason, detail FROM refusals ORDER BY seq DESC LIMIT ?", (limit,)
        )
        return [{"reason": r[0], "detail": r[1]} for r in rows]

    @router.get("/killswitch", response_model=KillSwitchOut, tags=["risk"])
    async def get_killswitch(service: Service):
        k = service.killswitch
        return {"state": k.state, "reason": k.reason, "changed_at": k.changed_at}

    @router.put("/killswitch", response_model=KillSwitchOut, tags=["risk"])
    async def put_killswitch(body: KillSwitchIn, service: Service, request: Request):
        """ACTIVE, REDUCING (only position-reducing orders) or HALTED (no new orders); cancels always pass.

        Releasing (to ACTIVE from another state) needs the second factor when one is enrolled."""
        if body.state is SwitchState.ACTIVE and service.killswitch.state is not SwitchState.ACTIVE:
            from execution.api.operator_routes import second_factor_refusal

            refused = second_factor_refusal(request, "release the kill switch")
            if refused is not None:
                return refused
        await service.set_kill_switch(body.state, body.reason, body.cancel_open)
        k = service.killswitch
        return {"state": k.state, "reason": k.reason, "changed_at": k.changed_at}

    return router
