"""Operator actions over the API that need a second factor: risk limits (and the kill switch's release).

Each is a signed request (the API key) and, once a second factor is enrolled, carries a fresh code
in ``X-Kimera-OTP`` (:mod:`execution.second_factor`). A refused code answers 403 with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from execution.second_factor import HEADER, Refused
from execution.service import ExecutionService

CHANGEABLE = ("max_order_notional", "max_position_notional", "price_band_bps", "daily_loss_limit")


def second_factor_refusal(request: Request, action: str) -> JSONResponse | None:
    """None when the action may go ahead; else the 403 to answer (no second factor enrolled: None)."""
    factor = getattr(request.app.state, "second_factor", None)
    if factor is None:
        return None
    try:
        factor.check(request.headers.get(HEADER), action)
    except Refused as exc:
        return JSONResponse(
            status_code=403, content={"error": "second_factor", "reason": exc.reason, "message": str(exc)}
        )
    return None


class RiskLimitsIn(BaseModel):
    """Any of the limits to change; the others stay."""

    model_config = ConfigDict(extra="forbid")
    max_order_notional: Annotated[float, Field(gt=0)] | None = None
    max_position_notional: Annotated[float, Field(gt=0)] | None = None
    price_band_bps: Annotated[float, Field(gt=0)] | None = None
    daily_loss_limit: Annotated[float, Field(gt=0)] | None = None


async def _service(request: Request) -> ExecutionService:
    return request.app.state.service


Service = Annotated[ExecutionService, Depends(_service)]


def risk_limits(service: ExecutionService) -> dict[str, Any]:
    return {name: getattr(service.cfg.risk, name) for name in CHANGEABLE}


def operator_router(dependencies: Sequence = ()) -> APIRouter:
    router = APIRouter(dependencies=list(dependencies))

    @router.get("/risk/limits", tags=["risk"])
    async def get_limits(service: Service) -> dict[str, Any]:
        """The pre-trade limits in force."""
        return risk_limits(service)

    @router.put("/risk/limits", tags=["risk"])
    async def put_limits(body: RiskLimitsIn, request: Request, service: Service):
        """Change pre-trade limits now (journaled, audited, kept across restarts); needs the second factor."""
        refused = second_factor_refusal(request, "change risk limits")
        if refused is not None:
            return refused
        changes = body.model_dump(exclude_none=True)
        if not changes:
            return JSONResponse(status_code=422, content={"error": "invalid", "message": f"give any of {list(CHANGEABLE)}"})  # fmt: skip
        try:
            await service.set_risk_limits(changes)
        except ValidationError as exc:
            return JSONResponse(status_code=422, content={"error": "invalid", "message": str(exc)})
        return risk_limits(service)

    return router
