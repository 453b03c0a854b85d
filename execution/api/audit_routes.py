"""Routes for whoever audits the trading: an order's trace, the chain's verification, costs, balances."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from execution.api.errors import problem
from execution.api.models import ErrorOut
from execution.service import ExecutionService
from execution.venues.base import VenueError

_ERRORS = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 503: {"model": ErrorOut}}


async def _service(request: Request) -> ExecutionService:
    return request.app.state.service


Service = Annotated[ExecutionService, Depends(_service)]
OrderId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


def audit_router(dependencies: Sequence = ()) -> APIRouter:
    router = APIRouter(dependencies=list(dependencies), responses=_ERRORS)

    @router.get("/orders/{client_order_id}/trace", tags=["audit"])
    async def trace_order(client_order_id: OrderId, service: Service) -> dict[str, Any]:
        """The order, its events and fills, its parent and signal, the prediction and the raw-data
        partitions behind it, and the audit entries that recorded each step."""
        from execution.provenance import NoSuchOrder, trace

        try:
            return await asyncio.to_thread(
                trace, service.journal.url, client_order_id, service.config, service.settings.warehouse_path
            )
        except NoSuchOrder:
            return problem(404, "not_found", f"no order {client_order_id!r}")

    @router.get("/audit/verify", tags=["audit"])
    async def verify_audit(service: Service) -> dict[str, Any]:
        """Walk the hash chain and compare the journal's orders and fills with their audited state."""
        from execution.audit import verify

        result = await asyncio.to_thread(verify, service.journal.url)
        return {"ok": result.ok, "entries": result.entries, "head": {"seq": result.head[0], "hash": result.head[1]},
                "problem": result.problem, "bad_entry": result.bad_seq, "mismatches": result.mismatches[:100]}  # fmt: skip

    @router.get("/reports/costs", tags=["reports"])
    async def costs(service: Service) -> dict[str, Any]:
        """Transaction costs per venue: slippage vs arrival price, fees, gas (quote and bps)."""
        from execution.reports.costs import cost_table, venue_kinds

        rows, _ = await asyncio.to_thread(cost_table, service.journal.url, venue_kinds(service.config))
        return {"venues": [{k: (str(v) if not isinstance(v, int | float | str) else v) for k, v in r.row().items()}
                           for r in rows]}  # fmt: skip

    @router.get("/reports/arbitrage", tags=["reports"])
    async def arbitrage(service: Service) -> dict[str, Any]:
        """The cross-chain desk: inventory per chain, drift from targets, the bridge plan (on paper),
        the last basis and every trade with both legs; ``enabled: false`` without a desk."""
        if service.arbitrage is None:
            return {"enabled": False}
        return {"enabled": True, **service.arbitrage.report()}

    @router.get("/venues/{venue}/balances", tags=["venues"])
    async def balances(venue: Annotated[str, Path(max_length=64)], service: Service) -> dict[str, Any]:
        """The account's balances at a live venue (free, used, total per currency)."""
        found = service.venues.get(venue)
        if found is None:
            return problem(404, "not_found", f"no venue {venue!r}; venues: {sorted(service.venues)}")
        if not hasattr(found, "balances"):
            return problem(409, "not_supported", f"venue {venue!r} does not report balances (paper venues)")
        try:
            held = await found.balances()
        except VenueError as exc:
            return problem(503, "venue_unavailable", str(exc))
        return {"venue": venue, "balances": {c: {k: str(v) for k, v in b.items()} for c, b in held.items()}}

    return router
