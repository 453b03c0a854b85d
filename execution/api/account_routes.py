"""The accounts' status over the API: per account, strategy and follower figures (docs/accounts.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse


def account_router(dependencies: Sequence = ()) -> APIRouter:
    router = APIRouter(dependencies=list(dependencies))

    @router.get("/accounts", tags=["accounts"])
    async def accounts(request: Request) -> Any:
        """Each account's equity, return, Sharpe, drawdown, trading state and books; each strategy's
        figures; each follower's figures and tracking error to its leader."""
        bridge = request.app.state.service.accounts
        if bridge is None:
            return JSONResponse(
                status_code=404,
                content={"error": "no_accounts", "message": "no execution.accounts, strategies or followers are configured; "
                         "the service trades one implicit account (see /positions and /pnl)"},
            )  # fmt: skip
        return bridge.summary()

    return router
